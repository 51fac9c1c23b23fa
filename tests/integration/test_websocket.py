#!/usr/bin/env python3
"""statusd's WebSockets over raw sockets: handshake and its refusals, /ws/echo
(text, binary, fragments, 64 KiB within and 1 MiB over the limit, 1 MiB with a
larger --ws-max-message), ping/pong, every close-code rule, and /ws/status
pushing the status JSON once a second."""
import json
import os
import struct
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import statusd_common as sc  # noqa: E402
from statusd_common import check, log, ok, require  # noqa: E402
from ws_common import WsClient, accept_for  # noqa: E402


def echo_checks(s):
    c = WsClient(s.port)
    require(c.status == 101, f"handshake answered {c.status}: {c.head!r}")
    check(c.header("Sec-WebSocket-Accept") == accept_for(c.key), f"Sec-WebSocket-Accept {c.header('Sec-WebSocket-Accept')!r}")
    check((c.header("Upgrade") or "").lower() == "websocket", "Upgrade header")
    c.send_text("hello, gust")
    check(c.recv_frame() == (True, 0x1, b"hello, gust"), "text echo")
    blob = bytes(range(256)) * 3
    c.send_binary(blob)
    check(c.recv_frame() == (True, 0x2, blob), "binary echo keeps the opcode")
    # Fragments with a ping between them: the pong comes first, then the joined message.
    c.send_frame(0x1, "frag", fin=False)
    c.send_frame(0x9, "are you there")
    c.send_frame(0x0, "men", fin=False)
    c.send_frame(0x0, "ted \u00e9\u00e8", fin=True)
    check(c.recv_frame() == (True, 0xA, b"are you there"), "pong with the ping's payload")
    check(c.recv_frame() == (True, 0x1, "fragmented \u00e9\u00e8".encode()), "fragments joined")
    # 64 KiB: within the default limit.
    big = os.urandom(65536)
    c.send_binary(big)
    fin, op, data = c.recv_frame()
    check(op == 0x2 and data == big, f"64 KiB echo: {len(data)} bytes back")
    c.send_frame(0x8, struct.pack("!H", 3000) + b"done")
    check(c.expect_close() == 3000, "close code echoed")
    check(c.closed_by_server(), "server closes TCP after the closing handshake")
    c.shutdown()
    ok("echo: text, binary, fragments, ping, 64 KiB, close")

    # 1 MiB over the 64 KiB default: 1009, without reading it all first.
    c = WsClient(s.port)
    c.sock.sendall(WsClient.frame(0x2, os.urandom(1 << 20)))
    check(c.expect_close() == 1009, "1 MiB message over the limit closes with 1009")
    c.shutdown()
    ok("1 MiB over the limit: 1009")


RULES = [
    ("unmasked client frame", lambda c: c.send_frame(0x1, "x", mask=False), 1002),
    ("RSV1 without an extension", lambda c: c.send_frame(0x1, "x", rsv=4), 1002),
    ("RSV2", lambda c: c.send_frame(0x2, "x", rsv=2), 1002),
    ("reserved opcode 3", lambda c: c.send_frame(0x3, "x"), 1002),
    ("reserved opcode 0xC", lambda c: c.send_frame(0xC, ""), 1002),
    ("fragmented ping", lambda c: c.send_frame(0x9, "x", fin=False), 1002),
    ("ping of 126 bytes", lambda c: c.send_frame(0x9, b"p" * 126), 1002),
    ("continuation without a message", lambda c: c.send_frame(0x0, "x"), 1002),
    ("new message inside a fragmented one", lambda c: (c.send_frame(0x1, "a", fin=False), c.send_frame(0x1, "b")), 1002),
    ("invalid UTF-8", lambda c: c.send_frame(0x1, b"\xce\xba\xff"), 1007),
    ("UTF-8 surrogate", lambda c: c.send_frame(0x1, b"\xed\xa0\x80"), 1007),
    ("UTF-8 cut at the end of a fragmented message",
     lambda c: (c.send_frame(0x1, b"a\xce", fin=False), c.send_frame(0x0, b"")), 1007),
    ("close of one byte", lambda c: c.send_frame(0x8, b"\x03"), 1002),
    ("close code 1005", lambda c: c.send_frame(0x8, struct.pack("!H", 1005)), 1002),
    ("close code 1016", lambda c: c.send_frame(0x8, struct.pack("!H", 1016)), 1002),
    ("close reason not UTF-8", lambda c: c.send_frame(0x8, struct.pack("!H", 1000) + b"\xff"), 1007),
    ("close 1000 echoed", lambda c: c.send_frame(0x8, struct.pack("!H", 1000)), 1000),
    ("close 4999 echoed", lambda c: c.send_frame(0x8, struct.pack("!H", 4999)), 4999),
]


def close_rules(s):
    for name, act, code in RULES:
        c = WsClient(s.port)
        act(c)
        try:
            got = c.expect_close(timeout=5)
        except Exception as e:  # noqa: BLE001
            got = f"no close frame ({e})"
        check(got == code, f"{name}: close code {got}, expected {code}")
        check(c.closed_by_server(), f"{name}: the server did not close the connection")
        c.shutdown()
    # An empty close is answered with an empty close.
    c = WsClient(s.port)
    c.send_frame(0x8, b"")
    check(c.expect_close() is None, "empty close answered with an empty close")
    c.shutdown()
    ok(f"{len(RULES) + 1} close-code rules")


def refusals(s):
    def raw(lines):
        r = s.raw()
        r.send(("\r\n".join(lines) + "\r\n\r\n").encode())
        resp = r.read_response()
        r.close()
        return resp

    base = ["GET /ws/echo HTTP/1.1", "Host: 127.0.0.1", "Upgrade: websocket", "Connection: Upgrade"]
    key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="
    r = raw(base + [key, "Sec-WebSocket-Version: 8"])
    check(r.status == 426 and r.header("Sec-WebSocket-Version") == "13", f"version 8: {r} {r.header('Sec-WebSocket-Version')}")
    r = raw(base + ["Sec-WebSocket-Version: 13"])
    check(r.status == 400, f"missing key: {r}")
    r = raw(base + ["Sec-WebSocket-Key: c2hvcnQ=", "Sec-WebSocket-Version: 13"])
    check(r.status == 400, f"bad key: {r}")
    r = raw(["GET /ws/echo HTTP/1.1", "Host: 127.0.0.1", key, "Sec-WebSocket-Version: 13"])
    check(r.status == 400, f"no Upgrade/Connection: {r}")
    r = raw(base + [key, "Sec-WebSocket-Version: 13", "Origin: http://evil.example"])
    check(r.status == 403, f"cross-site origin: {r}")
    st, _, _ = s.get("/ws/echo")
    check(st == 400, f"plain GET on a WebSocket route: {st}")
    ok("refused handshakes: 426, 400, 403")


def status_feed(s):
    c = WsClient(s.port, "/ws/status")
    require(c.status == 101, f"/ws/status handshake: {c.status}")
    t0 = time.monotonic()
    docs = []
    for _ in range(3):
        fin, op, data = c.recv_frame(timeout=5)
        check(op == 0x1, f"/ws/status sends text frames, got opcode {op}")
        docs.append((time.monotonic() - t0, json.loads(data)))
    c.close()
    check(c.expect_close() == 1000, "/ws/status closes with 1000")
    c.shutdown()
    for _, d in docs:
        check("uptime_s" in d and "server" in d and "load" in d, f"status JSON lacks fields: {list(d)}")
    gap = docs[2][0] - docs[1][0]
    check(0.5 < gap < 2.0, f"status pushed about once a second (gap {gap:.2f} s)")
    check(docs[2][1]["uptime_s"] > docs[1][1]["uptime_s"], "uptime advances between pushes")
    ok("/ws/status pushes the status JSON once a second")


def bigger_limit():
    s = sc.Statusd(["--ws-max-message", str(2 << 20)])
    c = WsClient(s.port)
    big = os.urandom(1 << 20)
    c.sock.sendall(WsClient.frame(0x2, big))
    fin, op, data = c.recv_frame(timeout=20)
    check(op == 0x2 and data == big, f"1 MiB echo with --ws-max-message 2 MiB: {len(data)} bytes")
    c.close()
    c.expect_close()
    c.shutdown()
    s.stop()
    ok("1 MiB within a 2 MiB limit")


def main():
    s = sc.Statusd()
    log(f"statusd pid {s.pid} port {s.port}")
    echo_checks(s)
    close_rules(s)
    refusals(s)
    status_feed(s)
    st = s.status_json()["server"]
    check(st["buffers"]["in_use"] <= 1, f"buffers still borrowed after the WebSockets closed: {st['buffers']}")
    s.stop()
    bigger_limit()


if __name__ == "__main__":
    sc.run(main, budget_s=120.0)
