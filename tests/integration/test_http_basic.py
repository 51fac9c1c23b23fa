#!/usr/bin/env python3
"""statusd routes through curl: /hello (GET and HEAD), /api/status JSON, /metrics,
404, 405 with Allow, /api/slow timing and its 400s."""
import json
import os
import re
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import statusd_common as sc  # noqa: E402
from statusd_common import check, log, ok  # noqa: E402

DATE_RE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                     r"\d{4} \d\d:\d\d:\d\d GMT$")


def common_headers(what, h, body_len=None):
    check("date" in h and DATE_RE.match(h["date"]), f"{what}: Date header missing or not IMF-fixdate: {h.get('date')!r}")
    check(h.get("server"), f"{what}: no Server header")
    if body_len is not None:
        check(h.get("content-length") == str(body_len),
              f"{what}: Content-Length {h.get('content-length')!r}, expected {body_len}")


def main():
    s = sc.Statusd()
    log(f"statusd pid {s.pid} port {s.port}")

    # GET /hello
    st, h, body, _ = sc.curl_fetch(s.url("/hello"))
    check(st == 200, f"GET /hello: status {st}")
    check(body == b"Hello, world!", f"GET /hello: body {body!r}")
    common_headers("GET /hello", h, 13)
    check(h.get("content-type", "").startswith("text/plain"), f"GET /hello: Content-Type {h.get('content-type')!r}")
    ok("GET /hello")

    # HEAD /hello: the same head, no body
    st, h, body, _ = sc.curl_fetch(s.url("/hello"), "-I")
    check(st == 200, f"HEAD /hello: status {st}")
    # (curl -I writes the head itself into -o, so the body is checked over a raw socket below)
    common_headers("HEAD /hello", h, 13)
    check(h.get("content-type", "").startswith("text/plain"), f"HEAD /hello: Content-Type {h.get('content-type')!r}")
    # curl -I does not read a body even if one is sent; look at the raw bytes as well.
    c = s.raw()
    c.send(sc.req("HEAD", "/hello") + sc.req("GET", "/hello"))
    r1 = c.read_response("HEAD")
    r2 = c.read_response("GET")
    check(r1.status == 200 and r1.body == b"", f"raw HEAD /hello: {r1}")
    check(r2.status == 200 and r2.body == b"Hello, world!",
          f"raw GET after HEAD on one connection: {r2} {r2.body[:60]!r} (HEAD sent a body?)")
    c.close()
    ok("HEAD /hello")

    # GET /api/status
    st, h, body, _ = sc.curl_fetch(s.url("/api/status"))
    check(st == 200, f"GET /api/status: status {st}")
    common_headers("GET /api/status", h, len(body))
    check(h.get("content-type", "").startswith("application/json"),
          f"GET /api/status: Content-Type {h.get('content-type')!r}")
    try:
        doc = json.loads(body)
    except ValueError as e:
        doc = {}
        check(False, f"GET /api/status: not JSON ({e}): {body[:200]!r}")
    for key in ("hostname", "uptime_s", "load", "memory", "interfaces", "server"):
        check(key in doc, f"/api/status lacks {key!r}")
    check(isinstance(doc.get("server"), dict) and isinstance(doc["server"].get("requests"), int),
          f"/api/status server.requests missing or not an integer: {doc.get('server')!r}")
    check(isinstance(doc.get("interfaces"), list), "/api/status interfaces is not a list")
    check(isinstance(doc.get("uptime_s"), (int, float)) and doc["uptime_s"] > 0, "/api/status uptime_s not > 0")
    ok("GET /api/status")
    st, h, body, _ = sc.curl_fetch(s.url("/api/status"), "-I")
    check(st == 200 and h.get("content-length", "0") != "0",
          f"HEAD /api/status: {st}, Content-Length {h.get('content-length')!r}")

    # GET /metrics
    st, h, body, _ = sc.curl_fetch(s.url("/metrics"))
    text = body.decode("utf-8", "replace")
    check(st == 200, f"GET /metrics: status {st}")
    common_headers("GET /metrics", h, len(body))
    check(h.get("content-type", "").startswith("text/plain"), f"GET /metrics: Content-Type {h.get('content-type')!r}")
    check(re.search(r"^# TYPE \S+ (counter|gauge)$", text, re.M), "/metrics has no '# TYPE' lines")
    check(re.search(r"^gust_http_requests_total(\{[^}]*\})? \d+(\.\d+)?$", text, re.M),
          "/metrics has no gust_http_requests_total sample")
    for line in text.splitlines():
        if line and not line.startswith("#"):
            if not check(re.match(r"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? \S+$", line),
                         f"/metrics: malformed sample line {line!r}"):
                break
    ok("GET /metrics")

    # 404 and 405
    st, h, body, _ = sc.curl_fetch(s.url("/no/such/path"))
    check(st == 404, f"GET /no/such/path: status {st}")
    common_headers("404", h, len(body))
    st, h, body, _ = sc.curl_fetch(s.url("/hello"), "-X", "POST", "--data-binary", "x")
    check(st == 405, f"POST /hello: status {st}")
    allow = [m.strip() for m in h.get("allow", "").split(",")]
    check(sorted(allow) == ["GET", "HEAD"], f"POST /hello: Allow {h.get('allow')!r}, expected 'GET, HEAD'")
    common_headers("405", h, len(body))
    st, h, body, _ = sc.curl_fetch(s.url("/hello"), "-X", "DELETE")
    check(st == 405 and "GET" in h.get("allow", ""), f"DELETE /hello: status {st}, Allow {h.get('allow')!r}")
    st, h, body, _ = sc.curl_fetch(s.url("/echo"), "-X", "GET")
    check(st == 405 and {"POST", "PUT"} <= {m.strip() for m in h.get("allow", "").split(",")},
          f"GET /echo: status {st}, Allow {h.get('allow')!r}")
    ok("404, 405 with Allow")

    # /api/slow
    t0 = time.monotonic()
    st, h, body, _ = sc.curl_fetch(s.url("/api/slow?ms=100"))
    dt = time.monotonic() - t0
    check(st == 200, f"GET /api/slow?ms=100: status {st}")
    check(dt >= 0.1, f"GET /api/slow?ms=100 answered after {dt * 1000:.0f} ms (< 100 ms)")
    check(dt < 2.0, f"GET /api/slow?ms=100 took {dt:.2f} s")
    log(f"  /api/slow?ms=100 took {dt * 1000:.0f} ms")
    for q in ("ms=abc", "ms=20000", "ms=-1", "ms=", "", "ms=10001", "ms=5x"):
        st, h, body, _ = sc.curl_fetch(s.url("/api/slow?" + q if q else "/api/slow"))
        check(st == 400, f"GET /api/slow?{q}: status {st}, expected 400")
    t0 = time.monotonic()
    st, _, _, _ = sc.curl_fetch(s.url("/api/slow?ms=0"))
    check(st == 200 and time.monotonic() - t0 < 1.0, f"GET /api/slow?ms=0: status {st}")
    ok("/api/slow")

    # The request counter moved.
    doc = s.status_json()
    check(doc["server"]["requests"] >= 20, f"server.requests is {doc['server']['requests']} after 20+ requests")
    check(doc["server"].get("responses_4xx", 0) >= 10,
          f"server.responses_4xx is {doc['server'].get('responses_4xx')} after 10+ 4xx")

    # Empty bodies (last: a sanitizer build used to die on these).
    for name, data in (("Content-Length: 0", sc.req("POST", "/echo", [("Content-Length", "0")])),
                       ("chunked, no data", sc.req("POST", "/echo", [("Transfer-Encoding", "chunked")], b"0\r\n\r\n"))):
        c = s.raw()
        try:
            r = c.request(data)
            check(r.status == 200 and r.body == b"" and r.header("Content-Length") in ("0", None),
                  f"POST /echo with an empty body ({name}): {r} {r.head!r}")
        except (OSError, sc.ProtocolError) as e:
            time.sleep(0.2)
            check(False, f"POST /echo with an empty body ({name}): no response ({e}); statusd "
                         f"{'alive' if s.alive() else 'exited ' + str(s.proc.poll())}: "
                         f"{s.stderr().strip().splitlines()[-1:]}")
        c.close()
        if not s.alive():
            break
    ok("POST /echo with an empty body")

    s.stop()


if __name__ == "__main__":
    sc.run(main)
