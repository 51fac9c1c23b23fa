#!/usr/bin/env python3
"""Zero heap allocations per request in steady state (DESIGN.md, memory rule 1).

Builds tests/integration/malloc_count.c into an LD_PRELOAD library, runs
statusd under it, warms up with 200 keep-alive GET /hello and POST /echo on
one connection, reads the allocation count (SIGUSR2 -> $MALLOC_COUNT_FILE),
runs 10 000 more keep-alive requests (5 000 GET /hello, 5 000 POST /echo of
100 bytes) in pipelined batches of 50 over a single raw socket, reads the
count again and requires the difference to be 0."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import statusd_common as sc  # noqa: E402
from statusd_common import check, log, ok, require  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BATCH = 50
N = 10000


def build_preload(tmp):
    cc = os.environ.get("CC_HOST") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    require(cc, "no C compiler (cc) found: install gcc (apt-get install gcc) to build malloc_count.so")
    so = os.path.join(tmp, "malloc_count.so")
    cmd = [cc, "-shared", "-fPIC", "-O2", "-Wall", "-o", so, os.path.join(HERE, "malloc_count.c"), "-ldl"]
    p = subprocess.run(cmd, capture_output=True, timeout=60)
    require(p.returncode == 0, f"building malloc_count.so failed: {' '.join(cmd)}\n{p.stderr.decode()}")
    return so


def read_count(s, path):
    """Asks the preloaded library for its counts; returns (allocations, frees)."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    s.proc.send_signal(signal.SIGUSR2)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            with open(path) as f:
                text = f.read()
            if text.endswith("\n"):
                a, f_ = text.split()
                return int(a), int(f_)
        except FileNotFoundError:
            pass
        time.sleep(0.01)
    raise sc.Failure(f"no count in {path} within 5 s of SIGUSR2 (is malloc_count.so preloaded?)")


def batch_bytes(start, count, body):
    out = []
    want = []
    for i in range(start, start + count):
        if i % 2:
            out.append(sc.req("POST", "/echo", [("Content-Type", "application/x-count")], body))
            want.append(body)
        else:
            out.append(sc.req("GET", "/hello"))
            want.append(b"Hello, world!")
    return b"".join(out), want


def run_requests(c, total, batch, body):
    done = 0
    while done < total:
        k = min(batch, total - done)
        data, want = batch_bytes(done, k, body)
        c.send(data)
        for j, w in enumerate(want):
            r = c.read_response(timeout=10)
            if r.status != 200 or r.body != w:
                raise sc.Failure(f"request {done + j}: {r.status}, {len(r.body)} bytes")
            if (r.header("Connection") or "").lower() == "close":
                raise sc.Failure(f"request {done + j}: the server closed the keep-alive connection")
        done += k
    return done


def main():
    sc.skip_unless_native("the LD_PRELOAD counter is a host library")
    tmp = tempfile.mkdtemp(prefix="malloc-it-")
    try:
        so = build_preload(tmp)
        count_file = os.path.join(tmp, "count.txt")
        env = {"LD_PRELOAD": so, "MALLOC_COUNT_FILE": count_file}
        if sc.sanitized():
            # ASan wants to come first; malloc_count forwards to it through RTLD_NEXT.
            env["ASAN_OPTIONS"] = (os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0").lstrip(":")
        s = sc.Statusd(env=env)
        log(f"statusd pid {s.pid} port {s.port} under {so}")
        start = read_count(s, count_file)
        log(f"  allocations at start-up: {start[0]} (frees {start[1]})")
        require(start[0] > 0, "the interposer counted no allocation at all: is LD_PRELOAD honoured?")

        body = bytes(range(100))
        c = s.raw(timeout=10)
        # Warm-up: one at a time, then pipelined, on one connection.
        run_requests(c, 100, 1, body)
        run_requests(c, 100, BATCH, body)
        before = read_count(s, count_file)
        log(f"  after 200 warm-up requests: {before[0]} allocations ({before[0] - start[0]} during warm-up)")

        t0 = time.monotonic()
        n = run_requests(c, N, BATCH, body)
        dt = time.monotonic() - t0
        after = read_count(s, count_file)
        c.close()
        diff = after[0] - before[0]
        frees = after[1] - before[1]
        log(f"  {n} keep-alive requests ({n // 2} GET /hello, {n // 2} POST /echo 100 B) in {dt:.2f} s "
            f"({n / dt:.0f} req/s)")
        log(f"RESULT: {diff} heap allocations and {frees} frees over {n} steady-state requests "
            f"({diff / n:.4f} per request)")
        check(diff == 0, f"{diff} heap allocations during {n} steady-state requests ({diff / n:.3f} per request); "
                         "the rule is zero")

        # One request per connection is not steady state, but must not leak either:
        # 200 fresh connections allocate no more than they free.
        before = read_count(s, count_file)
        for i in range(200):
            cc = s.raw(timeout=5)
            r = cc.request(sc.req("GET", "/hello", [("Connection", "close")]))
            require(r.status == 200, f"fresh connection {i}: {r.status}")
            cc.closed_by_server(2)
            cc.close()
        time.sleep(0.1)
        after = read_count(s, count_file)
        log(f"  200 fresh connections: {after[0] - before[0]} allocations, {after[1] - before[1]} frees")
        check(after[0] - before[0] == 0, f"{after[0] - before[0]} heap allocations over 200 new connections "
                                         "(pools are sized at start-up)")
        s.stop(allow=r"^WARN")
        ok("zero allocations per request")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sc.run(main)
