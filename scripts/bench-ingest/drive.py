"""Drives one `cutover serve` for the ingest malloc bench and prints allocations per request.

Usage: drive.py PORT SECRET COUNTER_FILE TEMPLATE REQUESTS BINARY SPOOL. Posts signed Cloud webhooks over a few keep-alive
connections, reads the server's malloc counter (scripts/bench-ingest/malloc-count.c) around each
phase, and waits, for new events, until every delivery is recorded (read with `cutover spool stats`
from another process, so the polling allocates nothing in the server), so the delivery's
allocations are in the count. Prints one line per phase: name, requests, mallocs,
mallocs per request.
"""
import hashlib, hmac, http.client, json, struct, subprocess, sys, threading, time

port, secret, counter_file, template_path = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3], sys.argv[4]
template = open(template_path).read()
CONNECTIONS = 4


def mallocs():
    with open(counter_file, "rb") as f:
        return struct.unpack("Q", f.read(8))[0]


def body(message_id, contact):
    return template.replace("__ID__", message_id).replace("__CONTACT__", f"{contact:07d}").encode()


def post_all(bodies):
    def worker(chunk):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for data in chunk:
            signature = "sha256=" + hmac.new(secret, data, hashlib.sha256).hexdigest()
            connection.request("POST", "/cloud", body=data,
                               headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature})
            response = connection.getresponse()
            response.read()
            assert response.status == 200, response.status
        connection.close()
    threads = [threading.Thread(target=worker, args=(bodies[i::CONNECTIONS],)) for i in range(CONNECTIONS)]
    for t in threads: t.start()
    for t in threads: t.join()


def delivered():
    stats = json.loads(subprocess.run([binary, "spool", "stats", "--spool", spool, "--json"],
                                      check=True, capture_output=True).stdout)
    return sum(counts.get("delivered", 0) for counts in stats.get("destinations", {}).values())


def wait_delivered(count):
    deadline = time.time() + 120
    while delivered() < count:
        if time.time() > deadline: raise SystemExit(f"only {delivered()} of {count} deliveries recorded")
        time.sleep(0.05)


def phase(name, bodies, expect_delivered=None):
    before = mallocs()
    post_all(bodies)
    if expect_delivered is not None: wait_delivered(expect_delivered)
    spent = mallocs() - before
    print(f"{name} {len(bodies)} {spent} {spent / len(bodies):.1f}")


warmup, count, binary, spool = 200, int(sys.argv[5]), sys.argv[6], sys.argv[7]
run = str(int(time.time()))
# Warm up both paths (connections, caches, the delivery client's pool).
post_all([body(f"wamid.WARM{run}{i}", i % 1000) for i in range(warmup)])
wait_delivered(warmup)
post_all([body(f"wamid.WARM{run}{i}", i % 1000) for i in range(warmup)])
phase("new", [body(f"wamid.NEW{run}{i}", i % 1000) for i in range(count)], expect_delivered=warmup + count)
phase("duplicate", [body(f"wamid.NEW{run}{i}", i % 1000) for i in range(count)])
before = mallocs(); time.sleep(1.0); idle = mallocs() - before
print(f"idle_per_second 1 {idle} {idle:.1f}")
