#!/usr/bin/env python3
"""Posts On-Prem webhooks from several threads while it removes or replaces Cutover's spool
directory underneath, and reports every response: the spool-loss test checks that no 200 is given
for something the spool on disk does not hold.

usage: test-spool-sabotage.py HOST PORT PATH SPOOL_DIR rm|replace MOVED_DIR THREADS BEFORE AFTER

Each thread posts sequentially; once BEFORE requests were acknowledged in total, the main thread
removes SPOOL_DIR (rm) or renames it to MOVED_DIR and makes an empty one in its place (replace),
then every thread sends AFTER more requests that all start after the change. Prints one JSON line
per request ({"id", "status", "after"}), then {"readyz": [status, body]} asked after the change.
"""
import http.client
import json
import os
import shutil
import sys
import threading

host, port, path, spool, action, moved = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
threads, before, after = int(sys.argv[7]), int(sys.argv[8]), int(sys.argv[9])

lock = threading.Lock()
acked = threading.Condition(lock)
acknowledged = 0
changed = threading.Event()
results = []


def body(message_id, index):
    contact = f"1650555{index % 50:04d}"
    return (
        '{"contacts":[{"profile":{"name":"Sabotage"},"wa_id":"%s"}],"messages":[{"from":"%s","id":"%s",'
        '"timestamp":"%d","text":{"body":"sabotage %d"},"type":"text"}]}' % (contact, contact, message_id, 1700000000 + index, index)
    ).encode()


def post(connection, message_id, index):
    connection.request("POST", path, body=body(message_id, index), headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    response.read()
    return response.status


def sender(number):
    global acknowledged
    connection = http.client.HTTPConnection(host, port, timeout=30)
    index, sent_after = 0, 0
    while sent_after < after:
        started_after = changed.is_set()
        message_id = f"ABGGSAB{number:02d}{index:06d}"
        status = post(connection, message_id, number * 100000 + index)
        index += 1
        with lock:
            results.append({"id": message_id, "status": status, "after": started_after})
            if status == 200:
                acknowledged += 1
                acked.notify_all()
        if started_after:
            sent_after += 1
        elif index > 100000:
            raise SystemExit("the change never happened")
    connection.close()


workers = [threading.Thread(target=sender, args=(number,)) for number in range(threads)]
for worker in workers:
    worker.start()
with lock:
    while acknowledged < before:
        acked.wait()
if action == "rm":
    shutil.rmtree(spool)
else:
    os.rename(spool, moved)
    os.mkdir(spool, 0o700)
changed.set()
for worker in workers:
    worker.join()

connection = http.client.HTTPConnection(host, port, timeout=30)
connection.request("GET", "/readyz")
response = connection.getresponse()
readyz = [response.status, response.read().decode()]
for result in results:
    print(json.dumps(result))
print(json.dumps({"readyz": readyz}), flush=True)
