#!/usr/bin/env python3
"""Drives a headless Chromium's first page over the DevTools protocol, one command per run.

The cockpit tests start Chromium themselves (with --remote-debugging-port=0) and read the port
from its "DevTools listening on ws://..." line; each step is one run of this script:

  cdp.py PORT navigate URL                 load URL, wait for the load event
  cdp.py PORT eval EXPRESSION              print the expression's value as JSON (awaits promises)
  cdp.py PORT wait EXPRESSION [SECONDS]    evaluate every 100 ms until the value is truthy, print it;
                                           exit 1 with the last value when the deadline passes
  cdp.py PORT screenshot SELECTOR FILE     PNG of the element to FILE (the page is captured beyond
                                           the viewport, so the element's document coordinates)

The WebSocket framing is websocket-client's (a maintained RFC 6455 client, pinned in
requirements.txt), not hand-written: screenshots come back as frames of several megabytes.
"""
import base64
import json
import sys
import time
import urllib.request

import websocket


class Page:
    def __init__(self, port):
        with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port, timeout=10) as answer:
            targets = json.load(answer)
        pages = [t for t in targets if t.get("type") == "page"]
        if not pages:
            raise SystemExit("cdp.py: Chromium has no page target: %s" % targets)
        # No Origin header: Chromium refuses DevTools connections from origins it was not told about.
        self.socket = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=30, suppress_origin=True)
        self.next_id = 0
        self.events = []

    def call(self, method, **params):
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise SystemExit("cdp.py: %s failed: %s" % (method, message["error"]))
                return message.get("result", {})
            self.events.append(message)

    def wait_event(self, name, deadline):
        while time.time() < deadline:
            for event in self.events:
                if event.get("method") == name:
                    return event
            self.socket.settimeout(max(0.1, deadline - time.time()))
            self.events.append(json.loads(self.socket.recv()))
        raise SystemExit("cdp.py: no %s before the deadline" % name)

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise SystemExit("cdp.py: the expression threw: %s" % text)
        return result.get("result", {}).get("value")


def main(arguments):
    if len(arguments) < 3:
        raise SystemExit(__doc__)
    page = Page(int(arguments[0]))
    command, rest = arguments[1], arguments[2:]
    if command == "navigate":
        page.call("Page.enable")
        page.call("Page.navigate", url=rest[0])
        page.wait_event("Page.loadEventFired", time.time() + 30)
    elif command == "eval":
        print(json.dumps(page.evaluate(rest[0])))
    elif command == "wait":
        deadline = time.time() + (float(rest[1]) if len(rest) > 1 else 30)
        value = None
        while time.time() < deadline:
            value = page.evaluate(rest[0])
            if value:
                print(json.dumps(value))
                return 0
            time.sleep(0.1)  # the poll interval of a wait with a deadline, not a synchronization
        print(json.dumps(value))
        return 1
    elif command == "screenshot":
        selector, path = rest
        box = page.evaluate(
            "(() => { const e = document.querySelector(%s); if (!e) return null; window.scrollTo(0, 0);"
            " const r = e.getBoundingClientRect(); return {x: r.left + window.scrollX, y: r.top + window.scrollY,"
            " width: Math.ceil(r.width), height: Math.ceil(r.height)}; })()" % json.dumps(selector))
        if not box:
            raise SystemExit("cdp.py: no element %s" % selector)
        box["scale"] = 1
        shot = page.call("Page.captureScreenshot", format="png", clip=box, captureBeyondViewport=True)
        with open(path, "wb") as file:
            file.write(base64.b64decode(shot["data"]))
        print(json.dumps(path))
    else:
        raise SystemExit(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
