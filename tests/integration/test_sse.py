#!/usr/bin/env python3
"""statusd's /events read with curl: the SSE head and event format (status
JSON once a second, ids, retry), heartbeat comments, Last-Event-ID accepted,
and a client that disconnects is cleaned up at once."""
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import statusd_common as sc  # noqa: E402
from statusd_common import check, log, ok, require  # noqa: E402


def curl_stream(url, seconds, *extra):
    """Runs curl -N for `seconds` and returns (head text, body text)."""
    require(sc.have_curl(), "curl is not installed")
    p = subprocess.run(["curl", "-sSN", "--noproxy", "*", "-D", "-", "--max-time", str(seconds), *extra, url],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=seconds + 10)
    out = p.stdout.decode("utf-8", "replace")
    check(p.returncode == 28, f"curl ended with {p.returncode} (28 = cut by --max-time, as expected for a stream)")
    head, _, body = out.partition("\r\n\r\n")
    return head, body


def main():
    s = sc.Statusd(["--sse-heartbeat-ms", "400"])
    log(f"statusd pid {s.pid} port {s.port}")
    head, body = curl_stream(s.url("/events"), 3, "-H", "Last-Event-ID: 5")
    check(re.search(r"^HTTP/1\.1 200", head), f"status line: {head[:40]!r}")
    check("content-type: text/event-stream" in head.lower(), f"Content-Type: {head!r}")
    check("cache-control: no-cache" in head.lower(), "Cache-Control: no-cache")
    check(body.startswith("retry: 2000\n\n"), f"stream starts with retry: {body[:40]!r}")
    events = [e for e in body.split("\n\n") if e.startswith("event: status")]
    check(len(events) >= 3, f"{len(events)} status events in 3 s (one at once, then one a second)")
    ids = []
    for e in events:
        lines = e.split("\n")
        check(lines[0] == "event: status" and lines[1].startswith("id: ") and lines[2].startswith("data: "),
              f"event layout: {e[:80]!r}")
        ids.append(int(lines[1][4:]))
        doc = json.loads(lines[2][6:])
        check("uptime_s" in doc and "server" in doc, "event data is the status JSON")
    check(ids == sorted(ids) and len(set(ids)) == len(ids), f"ids increase: {ids}")
    beats = body.count("\n:\n\n") + body.startswith(":\n\n")
    check(beats >= 4, f"{beats} heartbeat comments in 3 s at 400 ms")
    ok("event format, ids, retry and heartbeats")

    # A client that goes away is noticed at once: its connection closes.
    base = s.status_json()["server"]["connections_open"]
    c = socket.create_connection((sc.HOST, s.port), timeout=5)
    c.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
    c.recv(4096)
    opened = s.status_json()["server"]["connections_open"]
    check(opened == base + 1, f"the stream shows as open ({base} -> {opened})")
    c.close()
    deadline = time.monotonic() + 1.0
    now = opened
    while time.monotonic() < deadline:
        now = s.status_json()["server"]["connections_open"]
        if now == base:
            break
        time.sleep(0.05)
    check(now == base, f"connections_open still {now} (was {base}) 1 s after the client left")
    ok("disconnect cleanup")

    # Shutdown ends open event streams and WebSockets at once instead of
    # waiting out the drain deadline.
    from ws_common import WsClient
    held = socket.create_connection((sc.HOST, s.port), timeout=5)
    held.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
    held.recv(4096)
    ws = WsClient(s.port, "/ws/status")
    ws.recv_frame()
    got = {}

    def answer():  # a browser answers the server's close at once
        try:
            got["code"] = ws.expect_close(timeout=5)
            ws.close(1001)
        except Exception as e:  # noqa: BLE001
            got["code"] = f"none ({e})"

    t = threading.Thread(target=answer, daemon=True)
    t.start()
    dt = s.stop()
    t.join(5)
    check(dt < 2.0, f"statusd took {dt:.1f} s to stop with an event stream and a WebSocket open")
    check(got.get("code") == 1001, f"WebSocket close code at shutdown: {got.get('code')}")
    held.close()
    ws.shutdown()
    ok(f"shutdown with open streams in {dt:.2f} s")


if __name__ == "__main__":
    sc.run(main, budget_s=60.0)
