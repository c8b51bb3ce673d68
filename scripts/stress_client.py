#!/usr/bin/env python3
"""Hostile senders for scripts/stress.sh, each bounded in count and time, loopback only.

  stress_client.py unauth  PORT CONNECTIONS BYTES SECONDS       wrong signature to /cloud, all at once
  stress_client.py h2      PORT CONNECTIONS STREAMS BYTES SECONDS  h2c streams with bodies, interleaved
  stress_client.py signed  PORT SENDERS ROUNDS BYTES SECRET SECONDS  valid signed Cloud bodies
  stress_client.py healthz PORT STOPFILE                        GET /healthz until STOPFILE exists

Each attack prints one line: the statuses it saw (or how its connections ended). The prober prints
`healthz n=... p50_ms=... p99_ms=... max_ms=... errors=...`.
"""
import asyncio
import hashlib
import hmac
import json
import os
import socket
import sys
import threading
import time
from collections import Counter

CHUNK = 256 * 1024


async def _post(port, head, body, deadline):
    """Sends head + body in chunks until done or the server answers early; returns the status."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
    except Exception as error:  # noqa: BLE001 - any failure to connect is an outcome to count
        return "connect " + type(error).__name__
    # Read while sending: a server that refuses early (503, 401) stops reading the body.
    answer = asyncio.ensure_future(reader.readline())
    try:
        writer.write(head)
        view = memoryview(body)
        for offset in range(0, len(body), CHUNK):
            if answer.done() or time.monotonic() > deadline:
                break
            writer.write(view[offset:offset + CHUNK])
            await writer.drain()
        line = await asyncio.wait_for(answer, max(1, deadline - time.monotonic()))
        return line.split(b" ")[1].decode() if line.startswith(b"HTTP/") else "closed"
    except (ConnectionError, asyncio.TimeoutError, IndexError) as error:
        if answer.done() and not answer.exception():
            line = answer.result()
            if line.startswith(b"HTTP/"):
                return line.split(b" ")[1].decode()
        return type(error).__name__
    finally:
        answer.cancel()
        writer.close()


def unauth(port, connections, size, seconds):
    body = b"x" * size
    head = (
        f"POST /cloud HTTP/1.1\r\nHost: stress\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n"
        "X-Hub-Signature-256: sha256=0000000000000000000000000000000000000000000000000000000000000000\r\n\r\n"
    ).encode()
    deadline = time.monotonic() + seconds

    async def run():
        return await asyncio.gather(*(_post(port, head, body, deadline) for _ in range(connections)))

    print("unauth", dict(Counter(asyncio.run(run()))))


def signed(port, senders, rounds, size, secret, seconds):
    text = "y" * (size - 400)
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp", "metadata": {"display_phone_number": "1", "phone_number_id": "1"},
            "messages": [{"from": "1", "id": "wamid.stress", "timestamp": "1700000000", "type": "text", "text": {"body": text}}],
        }}]}],
    }
    deadline = time.monotonic() + seconds
    outcomes = Counter()

    async def sender(index):
        for round_ in range(rounds):
            payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = f"wamid.stress.{index}.{round_}.{time.time_ns()}"
            body = json.dumps(payload).encode()
            signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            head = (
                f"POST /cloud HTTP/1.1\r\nHost: stress\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                f"X-Hub-Signature-256: sha256={signature}\r\nConnection: close\r\n\r\n"
            ).encode()
            outcomes[await _post(port, head, body, deadline)] += 1
            if time.monotonic() > deadline:
                return

    async def run():
        await asyncio.gather(*(sender(index) for index in range(senders)))

    asyncio.run(run())
    print("signed", dict(outcomes))


def h2(port, connections, streams, size, seconds):
    import h2.config
    import h2.connection
    import h2.events
    import h2.exceptions

    deadline = time.monotonic() + seconds
    outcomes = Counter()
    lock = threading.Lock()

    def one():
        sock = socket.create_connection(("127.0.0.1", port))
        sock.settimeout(5)
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        conn.initiate_connection()
        head = [(":method", "POST"), (":path", "/cloud"), (":scheme", "http"), (":authority", "stress"),
                ("content-length", str(size)), ("x-hub-signature-256", "sha256=" + "0" * 64)]
        sent = {}
        for index in range(streams):
            stream = 2 * index + 1
            try:
                conn.send_headers(stream, head)
                sent[stream] = 0
            except h2.exceptions.TooManyStreamsError:
                with lock:
                    outcomes["not opened"] += 1
        sock.sendall(conn.data_to_send())
        chunk = b"z" * 16384
        done = {}
        while time.monotonic() < deadline and len(done) < len(sent):
            progressed = False
            for stream in list(sent):
                if stream in done:
                    continue
                try:
                    room = min(conn.local_flow_control_window(stream), len(chunk), size - sent[stream])
                except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError, KeyError):
                    done.setdefault(stream, "reset")
                    continue
                if room > 0:
                    conn.send_data(stream, chunk[:room], end_stream=sent[stream] + room == size)
                    sent[stream] += room
                    progressed = True
            try:
                sock.sendall(conn.data_to_send())
                if not progressed or conn.outbound_flow_control_window <= 0:
                    data = sock.recv(65536)
                    if not data:
                        break
                    for event in conn.receive_data(data):
                        if isinstance(event, h2.events.ResponseReceived):
                            done[event.stream_id] = dict(event.headers)[":status"]
                        elif isinstance(event, h2.events.StreamReset):
                            done.setdefault(event.stream_id, "reset")
                        elif isinstance(event, h2.events.ConnectionTerminated):
                            done.update({stream: done.get(stream, "goaway") for stream in sent})
                    sock.sendall(conn.data_to_send())
            except (OSError, h2.exceptions.ProtocolError):
                break
        with lock:
            for stream in sent:
                outcomes[done.get(stream, "unanswered")] += 1
        sock.close()

    threads = [threading.Thread(target=one) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print("h2", dict(outcomes))


def healthz(port, stopfile):
    latencies, errors = [], 0
    request = b"GET /healthz HTTP/1.1\r\nHost: stress\r\n\r\n"
    sock = None
    while not os.path.exists(stopfile):
        started = time.monotonic()
        try:
            if sock is None:
                sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(request)
            response = b""
            while not response.endswith(b"ok\n"):
                data = sock.recv(4096)
                if not data:
                    raise ConnectionError("closed")
                response += data
            latencies.append(time.monotonic() - started)
        except OSError:
            errors += 1
            latencies.append(time.monotonic() - started)
            sock = None
        time.sleep(0.02)  # a steady probe, not a load of its own
    latencies.sort()

    def at(quantile):
        return latencies[min(len(latencies) - 1, int(quantile * len(latencies)))] * 1000 if latencies else float("nan")

    print(f"healthz n={len(latencies)} p50_ms={at(0.5):.1f} p99_ms={at(0.99):.1f} max_ms={at(1.0):.1f} errors={errors}")


if __name__ == "__main__":
    command, arguments = sys.argv[1], sys.argv[2:]
    if command == "unauth":
        unauth(int(arguments[0]), int(arguments[1]), int(arguments[2]), float(arguments[3]))
    elif command == "h2":
        h2(int(arguments[0]), int(arguments[1]), int(arguments[2]), int(arguments[3]), float(arguments[4]))
    elif command == "signed":
        signed(int(arguments[0]), int(arguments[1]), int(arguments[2]), int(arguments[3]), arguments[4], float(arguments[5]))
    elif command == "healthz":
        healthz(int(arguments[0]), arguments[1])
    else:
        sys.exit(f"unknown command {command}")
