#!/usr/bin/env python3
"""Malformed requests over raw sockets, each on a fresh connection: the right
status (400/413/414/431/501/505), Date and Server on the error, and the
connection closed after it. Then the server still answers /hello."""
import os
import socket
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import statusd_common as sc  # noqa: E402
from statusd_common import check, log, ok  # noqa: E402

H = b"Host: 127.0.0.1\r\n"

CASES = [
    # (name, raw bytes, expected status)
    ("Content-Length + Transfer-Encoding",
     b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("Transfer-Encoding + Content-Length",
     b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400),
    ("differing duplicate Content-Length",
     b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400),
    ("Content-Length list with differing values",
     b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: 5, 6\r\n\r\nhello!", 400),
    ("Content-Length abc", b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: abc\r\n\r\n", 400),
    ("Content-Length -1", b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: -1\r\n\r\n", 400),
    ("Content-Length +5", b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: +5\r\n\r\nhello", 400),
    ("Content-Length overflowing 64 bits",
     b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: 99999999999999999999999\r\n\r\n", 400),
    ("chunk size overflowing 64 bits",
     b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n" + b"F" * 20 + b"\r\nabc\r\n", 400),
    ("chunk size not hex",
     b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400),
    # A coding the server cannot decode is 501 (RFC 9112 6.1) ...
    ("Transfer-Encoding: gzip, chunked",
     b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501),
    ("Transfer-Encoding: foo, chunked",
     b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: foo, chunked\r\n\r\n0\r\n\r\n", 501),
    # ... but when chunked is not the final coding the body length is unknowable:
    # RFC 9112 6.3 says MUST answer 400 and close, which takes precedence.
    ("Transfer-Encoding: gzip (chunked not final)",
     b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip\r\n\r\n", 400),
    ("Transfer-Encoding: chunked, chunked",
     b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400),
    ("Transfer-Encoding in HTTP/1.0",
     b"POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("obs-fold",
     b"GET /hello HTTP/1.1\r\n" + H + b"X-Folded: a\r\n b\r\n\r\n", 400),
    ("space before colon", b"GET /hello HTTP/1.1\r\n" + H + b"X-Spaced : b\r\n\r\n", 400),
    ("NUL in a header value", b"GET /hello HTTP/1.1\r\n" + H + b"X-Nul: a\x00b\r\n\r\n", 400),
    ("missing Host in HTTP/1.1", b"GET /hello HTTP/1.1\r\n\r\n", 400),
    ("two Host headers", b"GET /hello HTTP/1.1\r\n" + H + H + b"\r\n", 400),
    ("request target of 3000 bytes", b"GET /" + b"a" * 3000 + b" HTTP/1.1\r\n" + H + b"\r\n", 414),
    ("100 headers",
     b"GET /hello HTTP/1.1\r\n" + H + b"".join(b"X-H%d: v\r\n" % i for i in range(100)) + b"\r\n", 431),
    ("header section over 8 KiB",
     b"GET /hello HTTP/1.1\r\n" + H + b"X-Big: " + b"b" * 9000 + b"\r\n\r\n", 431),
    ("HTTP/2.0", b"GET /hello HTTP/2.0\r\n" + H + b"\r\n", 505),
    ("HTTP/3.0", b"GET /hello HTTP/3.0\r\n" + H + b"\r\n", 505),
    ("bare LF line ends", b"GET /hello HTTP/1.1\n" + H.replace(b"\r\n", b"\n") + b"\n", 400),
    ("bare LF inside the head", b"GET /hello HTTP/1.1\r\n" + H + b"X-A: b\n\r\n", 400),
    ("a space inside the request target",
     b"GET /hel lo HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("garbage request line", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400),
]


def one(s, name, data, expected):
    c = s.raw(timeout=5)
    try:
        c.send(data)
    except OSError as e:
        log(f"  ({name}: send failed: {e})")
    try:
        r = c.read_response("GET", timeout=5)
    except (sc.ProtocolError, socket.timeout, TimeoutError) as e:
        check(False, f"{name}: expected {expected}, got no response ({e}); sent {data[:120]!r}")
        c.close()
        return
    good = check(r.status == expected, f"{name}: status {r.status}, expected {expected}; sent {data[:120]!r}")
    check(r.header("Date") and r.header("Server"), f"{name}: {r.status} lacks Date or Server: {r.head!r}")
    check(r.header("Content-Length") is not None or r.header("Transfer-Encoding"),
          f"{name}: {r.status} has neither Content-Length nor Transfer-Encoding")
    closed = c.closed_by_server(timeout=2)
    good &= check(closed is True, f"{name}: connection not closed after {r.status} "
                                 f"({'more bytes came' if closed == 'extra' else 'still open after 2 s'})")
    c.close()
    if good:
        ok(f"{name} -> {r.status}, closed")


def main():
    s = sc.Statusd()
    log(f"statusd pid {s.pid} port {s.port}")
    before = s.status_json()["server"]
    for name, data, expected in CASES:
        one(s, name, data, expected)
    # The server is healthy afterwards.
    st, _, body = s.get("/hello")
    check(st == 200 and body == b"Hello, world!", f"GET /hello after the bad requests: {st} {body!r}")
    after = s.status_json()["server"]
    check(after["responses_4xx"] - before["responses_4xx"] >= len([c for c in CASES if c[2] < 500]),
          f"responses_4xx went {before['responses_4xx']} -> {after['responses_4xx']} over {len(CASES)} rejects")
    log(f"  connections open at the end: {after['connections_open']} (this one included)")
    check(after["connections_open"] <= 2, f"{after['connections_open']} connections still open after the rejects")
    ok("statusd healthy after the rejects")
    s.stop(allow=r"^WARN")


if __name__ == "__main__":
    sc.run(main)
