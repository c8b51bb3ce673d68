#!/usr/bin/env python3
"""A sender that keeps posting On-Prem webhooks to Cutover, retrying each until it gets a 200,
as Meta and On-Prem clients do. Prints `ack <message id>` for every 200 and `done` at the end.

Used by the crash test: Cutover is killed and restarted underneath it.
"""
import http.client
import sys
import time

url_host, url_port, path, count, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
deadline = time.monotonic() + 120
connection = None

for index in range(count):
    contact = f"1650555{index % 50:04d}"
    message_id = f"ABGG{prefix}{index:06d}"
    body = (
        '{"contacts":[{"profile":{"name":"Load"},"wa_id":"%s"}],"messages":[{"from":"%s","id":"%s",'
        '"timestamp":"%d","text":{"body":"load %d"},"type":"text"}]}' % (contact, contact, message_id, 1700000000 + index, index)
    ).encode()
    while True:
        if time.monotonic() > deadline:
            print("timeout", flush=True)
            sys.exit(1)
        try:
            if connection is None:
                connection = http.client.HTTPConnection(url_host, url_port, timeout=10)
            connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            if response.status == 200:
                print(f"ack {message_id}", flush=True)
                break
        except (OSError, http.client.HTTPException):
            pass
        # Not acknowledged: reconnect and send the same body again (the sender's retry).
        if connection is not None:
            connection.close()
            connection = None
        time.sleep(0.02)
print("done", flush=True)
