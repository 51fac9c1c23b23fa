#!/usr/bin/env python3
"""PUT /api/upload/{name}: a 64 MiB random file through curl -T streams to disk
with the right SHA-256 while statusd's RSS stays flat (< 1 MiB growth) and
/hello keeps answering; a wrong X-Expected-SHA256 gives 422 and no file; bad
names give 400/404 and write nothing outside the upload dir; 64 MiB + 1 gives 413."""
import hashlib
import json
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import statusd_common as sc  # noqa: E402
from statusd_common import check, log, ok, require  # noqa: E402

MiB = 1 << 20
BIG = 64 * MiB


def make_file(path, size, seed):
    """A random file (os.urandom) of `size` bytes; returns its sha256."""
    h = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            b = os.urandom(min(left, 4 * MiB))
            h.update(b)
            f.write(b)
            left -= len(b)
    return h.hexdigest()


def put_file(s, name, path, *extra, timeout=45):
    st, h, body, err = sc.curl_fetch(s.url("/api/upload/" + name), "-T", path, *extra, timeout=timeout)
    return st, h, body, err


def listing(d):
    return sorted(os.listdir(d))


def big_upload(s, work):
    # Warm-up: a small upload and a few requests touch the buffers and pools.
    small = os.path.join(work, "small.bin")
    small_sha = make_file(small, 300 * 1024, 1)
    for i in range(3):
        st, _, body, _ = put_file(s, "warmup.bin", small)
        require(st == 201, f"warm-up upload: {st} {body[:200]!r}")
    for _ in range(20):
        s.get("/hello")
    doc = json.loads(body)
    check(doc.get("sha256") == small_sha and doc.get("bytes") == 300 * 1024, f"warm-up upload answer {doc}")

    big = os.path.join(work, "fw.bin")
    t0 = time.monotonic()
    big_sha = make_file(big, BIG, 2)
    log(f"  made a 64 MiB random file in {time.monotonic() - t0:.1f} s")
    time.sleep(0.2)
    rss_before = s.rss_kib()

    done = threading.Event()
    samples = []
    hello = {"ok": 0, "bad": 0, "errors": []}

    def sampler():
        while not done.is_set():
            r = s.rss_kib()
            if r:
                samples.append(r)
            done.wait(0.01)

    def helloer():
        deadline = time.monotonic() + 50
        while not done.is_set() and time.monotonic() < deadline:
            try:
                st, _, b = s.get("/hello", timeout=5)
                if st == 200 and b == b"Hello, world!":
                    hello["ok"] += 1
                else:
                    hello["bad"] += 1
            except Exception as e:  # noqa: BLE001
                hello["bad"] += 1
                hello["errors"].append(repr(e))
            time.sleep(0.005)

    threads = [threading.Thread(target=sampler, daemon=True), threading.Thread(target=helloer, daemon=True)]
    for t in threads:
        t.start()
    t0 = time.monotonic()
    st, h, body, err = put_file(s, "fw.bin", big)
    dt = time.monotonic() - t0
    done.set()
    for t in threads:
        t.join(10)
    time.sleep(0.1)
    rss_after = s.rss_kib()
    peak = max(samples + [rss_after or 0])
    growth = peak - rss_before
    log(f"  64 MiB upload: status {st} in {dt:.2f} s ({BIG / MiB / dt:.0f} MiB/s)")
    log(f"  RSS: before {rss_before} KiB, peak during {peak} KiB ({len(samples)} samples), "
        f"after {rss_after} KiB: growth {growth} KiB")
    log(f"  /hello during the upload: {hello['ok']} ok, {hello['bad']} failed")
    check(st == 201, f"PUT 64 MiB: status {st}, body {body[:300]!r}, curl: {err.strip()[:200]}")
    try:
        doc = json.loads(body)
    except ValueError:
        doc = {}
    check(doc.get("name") == "fw.bin", f"upload answer name {doc.get('name')!r}")
    check(doc.get("bytes") == BIG, f"upload answer bytes {doc.get('bytes')!r}, expected {BIG}")
    check(doc.get("sha256") == big_sha, f"upload answer sha256 {doc.get('sha256')!r}, expected {big_sha}")
    stored = os.path.join(s.upload_dir, "fw.bin")
    check(os.path.isfile(stored) and os.path.getsize(stored) == BIG,
          f"stored file: {os.path.getsize(stored) if os.path.exists(stored) else 'missing'}")
    if os.path.isfile(stored):
        check(sc.sha256_file(stored) == big_sha, "the stored fw.bin differs from the uploaded file")
    limit = 1024 if not sc.sanitized() else 16 * 1024
    check(growth < limit, f"RSS grew by {growth} KiB during a 64 MiB upload (limit {limit} KiB): the body is buffered?")
    check(hello["ok"] > 0, f"no /hello answered during the upload ({hello['bad']} failed: {hello['errors'][:3]})")
    check(hello["bad"] == 0, f"{hello['bad']} /hello requests failed during the upload: {hello['errors'][:3]}")
    os.unlink(big)
    ok("64 MiB upload: 201, sha256 matches, RSS flat, /hello served meanwhile")
    return growth, small, small_sha


def checksum_mismatch(s, small, small_sha):
    wrong = "0" * 64
    st, _, body, _ = put_file(s, "bad.bin", small, "-H", f"X-Expected-SHA256: {wrong}")
    check(st == 422, f"wrong X-Expected-SHA256: status {st}, expected 422 ({body[:200]!r})")
    check(not os.path.exists(os.path.join(s.upload_dir, "bad.bin")), "bad.bin is still there after the 422")
    st, _, body, _ = put_file(s, "good.bin", small, "-H", f"X-Expected-SHA256: {small_sha.upper()}")
    check(st == 201, f"right X-Expected-SHA256 (upper case): status {st} ({body[:200]!r})")
    check(os.path.exists(os.path.join(s.upload_dir, "good.bin")), "good.bin missing after its 201")
    st, _, body, _ = put_file(s, "short.bin", small, "-H", "X-Expected-SHA256: abc")
    check(st == 422, f"malformed X-Expected-SHA256: status {st}, expected 422")
    check(not os.path.exists(os.path.join(s.upload_dir, "short.bin")), "short.bin left behind after a 422")
    ok("X-Expected-SHA256: mismatch -> 422 and the file is gone; match -> 201")


def bad_names(s, small):
    parent = os.path.dirname(s.upload_dir)
    before_parent = listing(parent)
    before_dir = listing(s.upload_dir)
    names = ["%2e%2e%2fx", "..%2fx", "%2e%2e", "..", ".", "a/b", "a%2fb", "x%00y", "a b", "%2fetc%2fx",
             "." * 200, "n" * 129]
    for name in names:
        c = s.raw(timeout=5)
        target = "/api/upload/" + name.replace(" ", "%20")
        try:
            r = c.request(sc.req("PUT", target, [("Connection", "close")], b"evil"))
            check(r.status in (400, 404), f"PUT {target}: status {r.status}, expected 400 or 404")
        except (OSError, sc.ProtocolError) as e:
            check(False, f"PUT {target}: {e}")
        c.close()
    check(listing(s.upload_dir) == before_dir, f"upload dir changed: {before_dir} -> {listing(s.upload_dir)}")
    check(listing(parent) == before_parent, f"the dir above uploads changed: {before_parent} -> {listing(parent)}")
    check(not os.path.exists(os.path.join(parent, "x")), "a file x appeared outside the upload dir")
    # 128 characters is the longest good name.
    st, _, body, _ = sc.curl_fetch(s.url("/api/upload/" + "n" * 128), "-T", small, timeout=10)
    check(st == 201, f"128-character name: {st}, expected 201")
    ok("bad names -> 400/404, nothing written outside the upload dir")


def too_large(s):
    """64 MiB + 1 with Content-Length: 413 (the body is sent in a thread; the answer may come early)."""
    for framing in ("content-length", "chunked"):
        c = s.raw(timeout=20)
        n = BIG + 1
        if framing == "content-length":
            c.send(sc.req("PUT", "/api/upload/huge.bin", [("Content-Length", str(n))]))
        else:
            c.send(sc.req("PUT", "/api/upload/huge.bin", [("Transfer-Encoding", "chunked")]))
        stop = threading.Event()

        def sender():
            block = b"\0" * (256 * 1024)
            left = n
            try:
                while left and not stop.is_set():
                    k = min(left, len(block))
                    data = block[:k] if framing == "content-length" else b"%x\r\n" % k + block[:k] + b"\r\n"
                    c.sock.sendall(data)
                    left -= k
                if framing == "chunked" and not stop.is_set():
                    c.sock.sendall(b"0\r\n\r\n")
            except OSError:
                pass

        t = threading.Thread(target=sender, daemon=True)
        t.start()
        try:
            r = c.read_response(timeout=30)
            check(r.status == 413, f"PUT 64 MiB + 1 ({framing}): status {r.status}, expected 413")
        except (sc.ProtocolError, socket.timeout, TimeoutError) as e:
            check(False, f"PUT 64 MiB + 1 ({framing}): no response ({e})")
        stop.set()
        c.close()
        t.join(10)
        # the partial file is removed (bounded wait: the handler unlinks after the error)
        deadline = time.monotonic() + 3
        while os.path.exists(os.path.join(s.upload_dir, "huge.bin")) and time.monotonic() < deadline:
            time.sleep(0.05)
        check(not os.path.exists(os.path.join(s.upload_dir, "huge.bin")), f"huge.bin left behind ({framing})")
    ok("64 MiB + 1 -> 413, nothing left behind")


def main():
    work = tempfile.mkdtemp(prefix="upload-it-")
    try:
        s = sc.Statusd()
        log(f"statusd pid {s.pid} port {s.port}, upload dir {s.upload_dir}")
        growth, small, small_sha = big_upload(s, work)
        checksum_mismatch(s, small, small_sha)
        bad_names(s, small)
        too_large(s)
        st, _, b = s.get("/hello")
        check(st == 200, f"/hello at the end: {st}")
        log(f"RESULT: RSS growth during the 64 MiB upload: {growth} KiB")
        s.stop(allow=r"^WARN")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sc.run(main)
