#!/usr/bin/env python3
"""A real downstream HTTP endpoint for Cutover's integration tests.

Prints `listening PORT` once bound, then one JSON line per request received:
{"path", "headers", "body" (base64), "status", "peer" (the client's host:port, one per connection)}. Options make it fail on purpose.
"""
import argparse
import base64
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, default=0)
parser.add_argument("--status", type=int, default=200, help="status to answer")
parser.add_argument("--retry-after", default="", help="Retry-After header to send with non-2xx answers")
parser.add_argument("--fail-every", type=int, default=0,
                    help="answer 500 to the first attempt of every Nth distinct event id")
parser.add_argument("--hold", action="store_true",
                    help="record each request at once but answer only after a POST /release")
options = parser.parse_args()
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
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


class Server(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True


server = Server(("127.0.0.1", options.port), Handler)
sys.stdout.write(f"listening {server.server_address[1]}\n")
sys.stdout.flush()
server.serve_forever()
