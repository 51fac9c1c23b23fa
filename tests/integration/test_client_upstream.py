#!/usr/bin/env python3
"""statusd --upstream: GET /api/upstream fetches every upstream at once (when_all).

Three Python origins on 127.0.0.1 each answer after 400 ms (one with a chunked
body, one with a 503), a fourth URL points at a closed port. The summary must
list all four in order with status, bytes and milliseconds, the refused one
with its error, and take about one upstream's delay, not the sum: the fetches
ran concurrently. A second request reuses the pooled connections."""
import http.server
import json
import os
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import statusd_common as sc  # noqa: E402
from statusd_common import check, log, ok, require  # noqa: E402

DELAY = 0.4


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        time.sleep(DELAY)
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"x" * 1000, b"y" * 500):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            return
        status, body = (503, b"busy\n") if self.path == "/busy" else (200, b"hello upstream\n")
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Origin:
    def __init__(self):
        self.server = http.server.ThreadingHTTPServer((sc.HOST, 0), Handler)
        self.server.daemon_threads = True
        self.connections = 0
        orig = self.server.process_request

        def counting(request, addr):
            self.connections += 1
            return orig(request, addr)

        self.server.process_request = counting
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path):
        return f"http://{sc.HOST}:{self.port}{path}"


def closed_port():
    s = socket.socket()
    s.bind((sc.HOST, 0))
    p = s.getsockname()[1]
    s.close()
    return p


def main():
    a, b, c = Origin(), Origin(), Origin()
    dead = f"http://{sc.HOST}:{closed_port()}/"
    urls = [a.url("/hello"), b.url("/chunked"), c.url("/busy"), dead]
    args = []
    for u in urls:
        args += ["--upstream", u]
    s = sc.Statusd(args=args)
    log(f"statusd pid {s.pid} port {s.port}, upstreams {urls}")

    t0 = time.monotonic()
    st, headers, body = s.get("/api/upstream", timeout=20)
    dt = time.monotonic() - t0
    require(st == 200, f"GET /api/upstream answered {st}: {body[:200]!r}")
    check(headers.get("content-type") == "application/json", f"content-type {headers.get('content-type')!r}")
    summary = json.loads(body)
    log(f"  {dt * 1000:.0f} ms: {summary}")
    require(isinstance(summary, list) and len(summary) == 4, f"want 4 entries: {summary!r}")
    check([e["url"] for e in summary] == urls, "entries are in --upstream order")
    check(summary[0]["status"] == 200 and summary[0]["bytes"] == len(b"hello upstream\n"), f"first: {summary[0]}")
    check(summary[1]["status"] == 200 and summary[1]["bytes"] == 1500, f"chunked: {summary[1]}")
    check(summary[2]["status"] == 503 and summary[2]["bytes"] == 5, f"503: {summary[2]}")
    check(summary[3]["status"] is None and "refused" in summary[3].get("error", ""), f"refused: {summary[3]}")
    for e in summary[:3]:
        check("error" not in e, f"no error for {e['url']}: {e}")
        check(e["ms"] >= DELAY * 1000 * 0.9, f"{e['url']} took {e['ms']} ms, less than the server's delay")
    check(dt < DELAY * 2.5, f"the summary took {dt:.2f} s: the upstreams were not fetched concurrently "
                            f"(each takes {DELAY} s)")
    ok("four upstreams summarised in one delay's time")

    st, _, body = s.get("/api/upstream", timeout=20)
    require(st == 200, f"second GET /api/upstream answered {st}")
    check(a.connections == 1 and b.connections == 1 and c.connections == 1,
          f"the second round opened new connections: {a.connections}, {b.connections}, {c.connections}")
    ok("the second round reused the pooled connections")
    s.stop()


if __name__ == "__main__":
    sc.run(main)
