#!/usr/bin/env python3
"""statusd's response cache (--status-cache-ms) through curl and Python:

  * /api/status and /metrics carry ETag, Last-Modified and Cache-Control;
    curl --etag-save/--etag-compare and curl -z get 304 with no body;
    http.client conditionals: If-None-Match lists, W/ and *, If-Modified-Since,
    and If-None-Match taking precedence over If-Modified-Since.
  * A burst of 50 concurrent GET /api/status costs one read of the system
    facts (status_reads_total, read through a probe URL with a query of its
    own, which is a different cache key); with --status-cache-ms 0 every
    request reads and no ETag is sent.
  * The entry expires after its TTL (real time, 300 ms).
  * Zero heap allocations over 3 000 cached requests (hits, 304s, refills),
    with the LD_PRELOAD malloc counter of test_http_allocations.py.
"""
import json
import os
import shutil
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
sys.path.insert(0, HERE)
import statusd_common as sc  # noqa: E402
from statusd_common import check, log, ok, require  # noqa: E402

BURST = 50
_probe = [0]


def reads(s):
    """status_reads_total now: a fresh key, so this probe itself reads once (counted)."""
    _probe[0] += 1
    st, _, body = s.get(f"/api/status?probe={_probe[0]}")
    require(st == 200, f"probe answered {st}")
    return json.loads(body)["status_reads_total"]


def burst(s, path, n):
    """n concurrent GETs on their own connections, released together; returns [(status, headers, body)]."""
    out = [None] * n
    gate = threading.Barrier(n)

    def one(i):
        c = s.http(timeout=10)
        try:
            c.connect()
            gate.wait(10)
            c.request("GET", path)
            r = c.getresponse()
            out[i] = (r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        except Exception as e:  # reported below
            out[i] = (0, {}, repr(e).encode())
        finally:
            c.close()

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    return out


def conditionals(s):
    st, h, body = s.get("/api/status")
    require(st == 200, f"GET /api/status: {st}")
    etag, lm, cc = h.get("etag"), h.get("last-modified"), h.get("cache-control")
    log(f"  ETag {etag}, Last-Modified {lm}, Cache-Control {cc}")
    require(etag and etag.startswith('"') and etag.endswith('"'), f"no strong ETag: {etag!r}")
    check(lm and lm.endswith(" GMT"), f"Last-Modified {lm!r}")
    check(cc and cc.startswith("max-age="), f"Cache-Control {cc!r}")
    st2, h2, body2 = s.get("/api/status")
    check(body2 == body and h2.get("etag") == etag, "a second GET within the TTL is not the same response")

    def cond(headers):
        return s.get("/api/status", headers=headers)

    for name, hdrs, want in [
        ("If-None-Match: etag", {"If-None-Match": etag}, 304),
        ("If-None-Match: list with W/", {"If-None-Match": f'"other", W/{etag}'}, 304),
        ("If-None-Match: *", {"If-None-Match": "*"}, 304),
        ("If-None-Match: other", {"If-None-Match": '"other"'}, 200),
        ("If-Modified-Since: Last-Modified", {"If-Modified-Since": lm}, 304),
        ("If-Modified-Since: 1994", {"If-Modified-Since": "Sun, 06 Nov 1994 08:49:37 GMT"}, 200),
        ("If-None-Match wins over If-Modified-Since", {"If-None-Match": '"other"', "If-Modified-Since": lm}, 200),
    ]:
        st, h, b = cond(hdrs)
        check(st == want, f"{name}: {st}, expected {want}")
        if st == 304:
            check(b == b"", f"{name}: a 304 with {len(b)} body bytes")
            check(h.get("etag") == etag and "cache-control" in h and "date" in h,
                  f"{name}: 304 without ETag/Cache-Control/Date: {h}")
            check("content-length" not in h, f"{name}: 304 with Content-Length")
    ok("ETag, Last-Modified and conditionals through http.client")

    if not sc.have_curl():
        log("  (curl not installed: skipping the curl round-trips)")
        return
    d = tempfile.mkdtemp(prefix="curl-etag-")
    try:
        saved = os.path.join(d, "etag")
        st, h, b, _ = sc.curl_fetch(s.url("/api/status"), "--etag-save", saved)
        check(st == 200 and b, f"curl --etag-save: {st}")
        with open(saved) as f:
            check(f.read().strip() == h.get("etag"), "curl saved a different ETag")
        st, h2, b2, _ = sc.curl_fetch(s.url("/api/status"), "--etag-compare", saved)
        check(st == 304 and b2 == b"", f"curl --etag-compare: {st} with {len(b2)} bytes")
        st, _, b3, _ = sc.curl_fetch(s.url("/metrics"), "-z", h["last-modified"])
        check(st in (200, 304), f"curl -z on /metrics: {st}")
        st, mh, mb, _ = sc.curl_fetch(s.url("/metrics"))
        check(st == 200 and b"gust_status_reads_total" in mb, "/metrics lacks gust_status_reads_total")
        check(mh.get("etag"), "/metrics has no ETag")
        st, _, b4, _ = sc.curl_fetch(s.url("/metrics"), "-z", mh.get("last-modified", ""))
        check(st == 304 and b4 == b"", f"curl -z Last-Modified on /metrics: {st}")
        st, hh, _, _ = sc.curl_fetch(s.url("/hello"))
        check("etag" not in hh, "/hello is not a cached route but carried an ETag")
    finally:
        shutil.rmtree(d, ignore_errors=True)
    ok("ETag and If-Modified-Since round-trips with curl")


def one_read_per_burst(s, n):
    before = reads(s)
    got = burst(s, "/api/status", n)
    after = reads(s)
    bad = [g for g in got if g is None or g[0] != 200]
    check(not bad, f"{len(bad)} of {n} burst requests failed: {bad[:3]}")
    etags = {g[1].get("etag") for g in got if g}
    bodies = {g[2] for g in got if g}
    log(f"  {n} concurrent GET /api/status: {after - before - 1} system read(s), "
        f"{len(bodies)} distinct bod(y/ies), ETags {etags}")
    return after - before - 1, bodies, etags


def main():
    # A long TTL so the figures cannot depend on how fast this machine is.
    s = sc.Statusd(args=["--status-cache-ms", "10000"])
    log(f"statusd pid {s.pid} port {s.port}, --status-cache-ms 10000")
    n_reads, bodies, etags = one_read_per_burst(s, BURST)
    check(n_reads == 1, f"a burst of {BURST} cost {n_reads} system reads, expected 1")
    check(len(bodies) == 1 and len(etags) == 1, "the burst got different responses")
    ok(f"a burst of {BURST} concurrent requests costs one system read")
    conditionals(s)
    s.stop()

    s = sc.Statusd(args=["--status-cache-ms", "0"])
    n_reads, _, etags = one_read_per_burst(s, 20)
    check(n_reads == 20, f"uncached: 20 requests made {n_reads} system reads")
    check(etags == {None}, f"uncached /api/status carried ETags {etags}")
    ok("--status-cache-ms 0 reads the system on every request")
    s.stop()

    s = sc.Statusd(args=["--status-cache-ms", "300"])
    _, _, first = s.get("/api/status")
    _, _, again = s.get("/api/status")
    check(again == first, "two GETs 0 ms apart differ under a 300 ms TTL")
    time.sleep(0.45)
    _, _, later = s.get("/api/status")
    a, b = json.loads(first)["status_reads_total"], json.loads(later)["status_reads_total"]
    check(b == a + 1, f"after the TTL: status_reads_total {a} -> {b}, expected one more read")
    ok("the entry expires after --status-cache-ms")
    s.stop()

    no_allocations()


def no_allocations():
    if sc.runner():
        log("  (cross board: the LD_PRELOAD counter is a host library; skipping the allocation count)")
        return
    import test_http_allocations as ta
    tmp = tempfile.mkdtemp(prefix="malloc-cache-")
    try:
        so = ta.build_preload(tmp)
        count_file = os.path.join(tmp, "count.txt")
        env = {"LD_PRELOAD": so, "MALLOC_COUNT_FILE": count_file}
        if sc.sanitized():
            env["ASAN_OPTIONS"] = (os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0").lstrip(":")
        # 50 ms: refills happen during the run, and they must not allocate either.
        s = sc.Statusd(args=["--status-cache-ms", "50"], env=env)
        require(ta.read_count(s, count_file)[0] > 0, "the interposer counted nothing: is LD_PRELOAD honoured?")
        c = s.raw(timeout=10)
        r = c.request(sc.req("GET", "/api/status"))
        etag = r.header("ETag")
        require(r.status == 200 and etag, f"GET /api/status: {r.status}, ETag {etag!r}")

        def batch(k):
            data = b"".join(sc.req("GET", "/api/status" if i % 3 else "/metrics",
                                   [("If-None-Match", etag)] if i % 2 else []) for i in range(k))
            c.send(data)
            for i in range(k):
                resp = c.read_response(timeout=10)
                if resp.status not in (200, 304):
                    raise sc.Failure(f"cached request answered {resp.status}")

        for _ in range(10):
            batch(50)
        before = ta.read_count(s, count_file)
        t0 = time.monotonic()
        for _ in range(60):
            batch(50)
        dt = time.monotonic() - t0
        after = ta.read_count(s, count_file)
        c.close()
        diff = after[0] - before[0]
        log(f"RESULT: {diff} heap allocations over 3000 cached requests in {dt:.2f} s (hits, 304s, refills)")
        check(diff == 0, f"{diff} heap allocations over 3000 cached requests; the rule is zero")
        s.stop(allow=r"^WARN")
        ok("zero allocations on cached requests")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sc.run(main)
