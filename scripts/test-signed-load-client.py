#!/usr/bin/env python3
"""A Cloud API sender for the multi-instance tests: signed webhooks (X-Hub-Signature-256) for
CONTACTS contacts, each with a sequence number, spread over several Cutover instances as a load
balancer would. One contact's messages go out strictly in sequence (the next only after the
previous got a 200), alternating between the instances; a request that fails or is not answered
200 is sent again, to the next instance. Prints `ack <message id>` for every 200, `refused <status>
<message id>` the first time a message is answered something else, and `done` (or `timeout`).

Message ids are `wamid.<prefix>.<contact>.<sequence>`, so a delivery names its contact and place.
"""
import argparse
import hashlib
import hmac
import http.client
import json
import sys
import threading
import time

parser = argparse.ArgumentParser()
parser.add_argument("--targets", required=True, help="comma-separated 127.0.0.1:PORT of the instances")
parser.add_argument("--messages", type=int, required=True, help="messages in all")
parser.add_argument("--contacts", type=int, default=100)
parser.add_argument("--threads", type=int, default=20)
parser.add_argument("--secret", required=True, help="the app secret to sign with")
parser.add_argument("--prefix", default="load")
parser.add_argument("--deadline", type=float, default=150, help="seconds before giving up")
options = parser.parse_args()

targets = [(host, int(port)) for host, port in (item.rsplit(":", 1) for item in options.targets.split(","))]
deadline = time.monotonic() + options.deadline
output = threading.Lock()
failed = threading.Event()


def say(line):
    with output:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def body(contact, sequence):
    wa_id = "1650777%04d" % contact
    message_id = "wamid.%s.%d.%d" % (options.prefix, contact, sequence)
    document = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": "Load %d" % contact}, "wa_id": wa_id}],
            "messages": [{"from": wa_id, "id": message_id, "timestamp": str(1700000000 + sequence),
                          "type": "text", "text": {"body": "seq %d" % sequence}}],
        }}]}],
    }
    return message_id, json.dumps(document, separators=(",", ":")).encode()


def worker(index):
    connections = {}
    turn = index
    mine = [contact for contact in range(options.contacts) if contact % options.threads == index]
    per_contact = options.messages // options.contacts
    for sequence in range(1, per_contact + 1):
        for contact in mine:
            message_id, payload = body(contact, sequence)
            signature = "sha256=" + hmac.new(options.secret.encode(), payload, hashlib.sha256).hexdigest()
            refused = False
            while True:
                if time.monotonic() > deadline:
                    failed.set()
                    return
                target = targets[turn % len(targets)]
                turn += 1
                try:
                    connection = connections.get(target)
                    if connection is None:
                        connection = http.client.HTTPConnection(target[0], target[1], timeout=10)
                        connections[target] = connection
                    connection.request("POST", "/cloud", body=payload, headers={
                        "Content-Type": "application/json", "X-Hub-Signature-256": signature})
                    response = connection.getresponse()
                    response.read()
                    if response.status == 200:
                        say("ack " + message_id)
                        break
                    if not refused:
                        refused = True
                        say("refused %d %s" % (response.status, message_id))
                except (OSError, http.client.HTTPException):
                    connection = connections.pop(target, None)
                    if connection is not None:
                        connection.close()
                # Not acknowledged: the sender's retry, to the next instance.
                time.sleep(0.02)


threads = [threading.Thread(target=worker, args=(index,)) for index in range(options.threads)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
say("timeout" if failed.is_set() else "done")
