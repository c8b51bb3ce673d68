"""Verifies Standard Webhooks signatures with the `standardwebhooks` package.

Reads JSON lines {"secret", "headers", "body" (base64)} on stdin; prints "ok <webhook-id>" per
verified delivery and exits 1 on the first one the library rejects.
"""
import base64
import json
import sys

from standardwebhooks.webhooks import Webhook

for line in sys.stdin:
    if not line.strip():
        continue
    record = json.loads(line)
    body = base64.b64decode(record["body"])
    try:
        Webhook(record["secret"]).verify(body, record["headers"])
    except Exception as error:  # the library raises WebhookVerificationError
        print(f"rejected {record['headers'].get('webhook-id')}: {error}")
        sys.exit(1)
    print(f"ok {record['headers']['webhook-id']}")
