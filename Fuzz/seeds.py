#!/usr/bin/env python3
"""Writes the hand-made seed inputs under Fuzz/Corpus/ (the webhook and JSON harnesses start from
fixtures/ instead). Each HTTP seed starts with the harness's option byte (see FuzzInput.swift):
high nibble flags, low nibble how many split lengths follow."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    directory = os.path.join(HERE, "Corpus", target)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def variants(target, name, payload):
    """Whole; with small limits (flag 0); cut into 1..3-byte reads throughout."""
    write(target, name, b"\x00" + payload)
    write(target, name + "-small", b"\x10" + payload)
    write(target, name + "-cut", b"\x0f" + bytes([0, 1, 2, 0, 1, 0, 2, 1, 0, 0, 1, 2, 0, 1, 0]) + payload)


REQUESTS = {
    "get": b"GET /healthz HTTP/1.1\r\nHost: relay\r\n\r\n",
    "post-length": b"POST /cloud HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\n"
    b"X-Hub-Signature-256: sha256=00\r\nContent-Length: 13\r\n\r\n{\"entry\": []}",
    "post-chunked": b"POST /onprem/default HTTP/1.1\r\nHost: relay\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5;ext=1\r\n{\"mes\r\n8\r\nsages\":[\r\n2\r\n]}\r\n0\r\nX-Trailer: t\r\n\r\n",
    "pipelined": b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nPOST /b?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nokGET /c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    "expect-continue": b"POST /cloud HTTP/1.1\r\nHost: relay\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nbody",
    "http10-keepalive": b"\r\nGET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "absolute-form": b"GET http://relay:8080/cloud?hub.mode=subscribe&hub.verify_token=t HTTP/1.1\r\nHost: relay\r\n\r\n",
    "options-asterisk": b"OPTIONS * HTTP/1.1\r\nHost: relay\r\n\r\n",
    "smuggling": b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "gzip-chunked": b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    "obs-fold": b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n",
    "http2-version": b"GET / HTTP/2.0\r\nHost: h\r\n\r\n",
}

RESPONSES = {
    "length": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "chunked": b"HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nerr\r\n0\r\n\r\n",
    "interim": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n",
    "no-content": b"HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
    "until-close": b"HTTP/1.0 200 OK\r\n\r\nclose-delimited body",
    "retry-after": b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: Wed, 21 Oct 2015 07:28:00 GMT\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
    "keep-alive-10": b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx",
    "switching": b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n",
}


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY_FLAG = 0x1, 0x1, 0x4, 0x8, 0x20


def literal(name, value):
    """HPACK literal header field without indexing, new name (RFC 7541 §6.2.2), short strings."""
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


GET = b"\x82\x87\x84" + b"\x41\x05relay"  # :method GET, :scheme https, :path /, :authority relay
POST = b"\x83\x87" + literal(b":path", b"/cloud") + b"\x41\x05relay" + literal(b"content-type", b"application/json")
SETTINGS_EMPTY = frame(SETTINGS, 0, 0)
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

H2 = {
    "get": SETTINGS_EMPTY + frame(HEADERS, END_HEADERS | END_STREAM, 1, GET),
    "post": SETTINGS_EMPTY + frame(HEADERS, END_HEADERS, 1, POST + literal(b"content-length", b"13"))
    + frame(DATA, 0, 1, b"{\"entry\":") + frame(DATA, END_STREAM, 1, b" []}"),
    "continuation": SETTINGS_EMPTY + frame(HEADERS, 0, 1, POST[:6]) + frame(CONTINUATION, END_HEADERS, 1, POST[6:])
    + frame(DATA, END_STREAM | PADDED, 1, b"\x03{}xxx"),
    "trailers": SETTINGS_EMPTY + frame(HEADERS, END_HEADERS, 3, POST) + frame(DATA, 0, 3, b"{}")
    + frame(HEADERS, END_HEADERS | END_STREAM, 3, literal(b"x-trailer", b"1")),
    "control": frame(SETTINGS, 0, 0, struct.pack(">HI", 3, 10) + struct.pack(">HI", 4, 1 << 20)) + frame(SETTINGS, ACK, 0)
    + frame(PING, 0, 0, b"12345678") + frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 1 << 16))
    + frame(PRIORITY, 0, 5, struct.pack(">IB", 1, 16)) + frame(HEADERS, END_HEADERS | PRIORITY_FLAG, 5, struct.pack(">IB", 0, 1) + GET)
    + frame(RST_STREAM, 0, 5, struct.pack(">I", 8)) + frame(GOAWAY, 0, 0, struct.pack(">II", 0, 0) + b"bye"),
    "many-streams": SETTINGS_EMPTY + b"".join(frame(HEADERS, END_HEADERS | END_STREAM, s, GET) for s in range(1, 20, 2)),
    "too-large": SETTINGS_EMPTY + frame(HEADERS, END_HEADERS, 1, POST + literal(b"content-length", b"99999999"))
    + frame(DATA, END_STREAM, 1, b"x" * 300),
    "big-header": SETTINGS_EMPTY + frame(HEADERS, END_HEADERS | END_STREAM, 1, GET + b"".join(literal(b"x-h%d" % i, b"v" * 60) for i in range(12))),
    "window-update-stream": SETTINGS_EMPTY + frame(HEADERS, END_HEADERS, 1, POST) + frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", 100))
    + frame(DATA, END_STREAM, 1, b"{}"),
}

CONFIGS = {
    "minimal.yml": b"listen: 127.0.0.1:8080\nspool: /tmp/cutover-fuzz-spool\n",
    "destinations.yml": b"""destinations:
  - name: crm
    url: https://crm.example/hooks
    format: cloud
    app_secret: {env: CRM_SECRET}
  - name: archive
    url: http://127.0.0.1:9000/in
    format: canonical
onprem:
  routes:
    - name: default
      token: {file: /nonexistent}
      phone_number_id: "106540352242922"
limits:
  max_body_bytes: 4194304
""",
    "anchors.yml": b"a: &x [1, 2, {b: c}]\nlimits: *x\n",
    "bad-type.yml": b"limits:\n  max_body_bytes: lots\n",
}

if __name__ == "__main__":
    for name, payload in REQUESTS.items():
        variants("http1-request", name, payload)
    for name, payload in RESPONSES.items():
        variants("http1-response", name, payload)
    write("http1-response", "head", b"\x20" + b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
    for name, payload in H2.items():
        variants("http2-server", name, payload)
    write("http2-server", "own-preface", b"\x20" + PREFACE + H2["get"])
    write("http2-server", "bad-preface", b"\x20" + b"GET / HTTP/1.1\r\n\r\n")
    for name, text in CONFIGS.items():
        write("config", name, text)
