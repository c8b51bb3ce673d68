#!/usr/bin/env python3
"""A real downstream HTTP endpoint for Cutover's integration tests.

Prints `listening PORT` once bound, then one JSON line per request received:
{"path", "headers", "body" (base64), "status", "peer" (the client's host:port, one per connection)}. Options make it fail on purpose.
"""
import argparse
import base64
import hashlib
import hmac
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, default=0)
parser.add_argument("--status", type=int, default=200, help="status to answer")
parser.add_argument("--body", default="ok", help="response body to answer with (refusals of signature or voice keep their reason)")
parser.add_argument("--retry-after", default="", help="Retry-After header to send with non-2xx answers")
parser.add_argument("--fail-every", type=int, default=0,
                    help="answer 500 to the first attempt of every Nth distinct event id")
parser.add_argument("--hold", action="store_true",
                    help="record each request at once but answer only after a POST /release")
parser.add_argument("--refuse-voice", action="store_true",
                    help="answer 422 with a reason to any body holding a voice note (onprem, cloud or canonical)")
parser.add_argument("--app-secret", default="",
                    help="answer 401 unless X-Hub-Signature-256 is the body's HMAC-SHA256 with this secret")
parser.add_argument("--signing-secret", default="",
                    help="answer 401 unless webhook-signature is the body's Standard Webhooks signature (whsec_...)")
options = parser.parse_args()


def is_voice_note(body):
    """Whether a webhook body holds a voice note, in any of the three shapes Cutover sends."""
    try:
        document = json.loads(body)
    except ValueError:
        return False
    documents = document if isinstance(document, list) else [document]
    for doc in documents:
        if not isinstance(doc, dict):
            continue
        messages = list(doc.get("messages") or [])
        for entry in doc.get("entry") or []:
            for change in entry.get("changes") or []:
                messages += (change.get("value") or {}).get("messages") or []
        message = (doc.get("data") or {}).get("message") if isinstance(doc.get("data"), dict) else None
        if isinstance(message, dict):
            messages.append(message)
        for m in messages:
            if not isinstance(m, dict):
                continue
            if m.get("type") == "voice" or (m.get("type") == "audio" and (m.get("audio") or {}).get("voice") is True):
                return True
    return False


def signature_problem(headers, body):
    """Why the request's signature does not hold, or None (also when no secret is set)."""
    if options.app_secret:
        expected = "sha256=" + hmac.new(options.app_secret.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(headers.get("X-Hub-Signature-256", ""), expected):
            return "bad X-Hub-Signature-256"
    if options.signing_secret:
        key = base64.b64decode(options.signing_secret[len("whsec_"):])
        signed = ("%s.%s." % (headers.get("webhook-id", ""), headers.get("webhook-timestamp", ""))).encode() + body
        expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        if expected not in headers.get("webhook-signature", "").split(" "):
            return "bad webhook-signature"
    return None
released = threading.Event()

seen_attempts = {}
distinct = []


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        if self.path == "/release":
            released.set()
            self.send_response(204)
            self.end_headers()
            return
        event_id = self.headers.get("X-Cutover-Event-Id", "")
        status = options.status
        if options.fail_every and event_id:
            if event_id not in seen_attempts:
                distinct.append(event_id)
                seen_attempts[event_id] = 0
            seen_attempts[event_id] += 1
            position = distinct.index(event_id) + 1
            if position % options.fail_every == 0 and seen_attempts[event_id] == 1:
                status = 500
        reason = options.body.encode()
        problem = signature_problem(self.headers, body)
        if problem:
            status, reason = 401, problem.encode() + b"\n"
        elif options.refuse_voice and is_voice_note(body):
            status, reason = 422, b"voice notes are not supported here\n(refused by test-downstream.py --refuse-voice)\n"
        record = {
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": base64.b64encode(body).decode(),
            "status": status,
            "peer": "%s:%d" % self.client_address[:2],
        }
        sys.stdout.write(json.dumps(record) + "\n")
        sys.stdout.flush()
        if options.hold:
            released.wait()
        self.send_response(status)
        if options.retry_after and status >= 300:
            self.send_header("Retry-After", options.retry_after)
        self.send_header("Content-Length", str(len(reason)))
        self.end_headers()
        self.wfile.write(reason)

    def log_message(self, *args):
        pass


class Server(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True


server = Server(("127.0.0.1", options.port), Handler)
sys.stdout.write(f"listening {server.server_address[1]}\n")
sys.stdout.flush()
server.serve_forever()
