#!/usr/bin/env python3
"""Footprint of one board's statusd: what `make BOARD=<b> footprint` prints.

  * stripped size of statusd, dynamic ($BUILD/statusd) and static
    ($STATIC_BUILD/statusd, a STATIC=1 build; left out when absent);
  * VmRSS of statusd idle, and the RSS added per idle keep-alive connection,
    plaintext and TLS (N connections that each served one GET /hello, held
    open; (after - before) / N);
  * the frame pool's and the buffer pool's bytes at the board's default
    limits: frame counts × class sizes from boards/<b>/board.hpp, buffers
    from statusd's own /api/status (capacity × GUST_HTTP_BUFFER_SIZE).

Under qemu-user the RSS is the emulator's process: its idle figure includes
qemu itself (code, translation cache), so only the per-connection deltas
are comparable with a device. Env: BUILD, BOARD, RUNNER, STATIC_BUILD, STRIP,
CONNS (50). Prints one Markdown table row per figure; exits 1 if a
measurement fails.
"""

import http.client
import os
import re
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration", "lib"))
import statusd_common as sc  # noqa: E402

ROOT = sc.ROOT
BUILD = os.environ.get("BUILD", "build/host")
BOARD = os.environ.get("BOARD", "host")
STATIC_BUILD = os.environ.get("STATIC_BUILD", "")
STRIP = os.environ.get("STRIP", "strip")
CONNS = int(os.environ.get("CONNS", "50"))


def stripped_size(path):
    with tempfile.NamedTemporaryFile() as t:
        subprocess.run([STRIP, "-o", t.name, path], check=True)
        return os.path.getsize(t.name)


def board_macro(name, default):
    text = open(os.path.join(ROOT, "boards", BOARD, "board.hpp")).read()
    m = re.search(r"^#define " + name + r" (.*)$", text, re.M)
    return m.group(1).strip() if m else default


def frame_pool_bytes():
    counts = [int(x) for x in re.findall(r"\d+", board_macro("GUST_FRAME_COUNTS", "{64, 256, 256, 128, 32, 8, 4}"))]
    return sum(n * (128 << i) for i, n in enumerate(counts)), sum(counts)


def settle(s):
    time.sleep(0.5)
    return s.rss_kib()


def served(port, ctx):
    """A keep-alive connection that has served one GET /hello."""
    if ctx:
        c = http.client.HTTPSConnection(sc.HOST, port, context=ctx, timeout=60)
    else:
        c = http.client.HTTPConnection(sc.HOST, port, timeout=60)
    c.request("GET", "/hello")
    r = c.getresponse()
    sc.require(r.status == 200 and r.read() == b"Hello, world!", "a connection was not served")
    return c


def idle_connections(s, port, ctx=None):
    """RSS added per idle keep-alive connection that served one request."""
    # A few first: the code paths' first run (qemu translates them, the
    # allocator grows its arenas) is not a per-connection cost.
    for _ in range(5):
        served(port, ctx).close()
    before = settle(s)
    conns = []
    try:
        for _ in range(CONNS):
            conns.append(served(port, ctx))
        after = settle(s)
    finally:
        for c in conns:
            c.close()
    return (after - before) / CONNS


def kib(n):
    return f"{n / 1024:.0f} KiB" if n < 10 * 1024 * 1024 else f"{n / 1048576:.1f} MiB"


def main():
    rows = []
    runner = os.environ.get("RUNNER", "")
    where = f"under {runner.split()[0].split('/')[-1]}" if runner else "native"
    dyn = os.path.join(BUILD, "statusd")
    sc.require(os.path.isfile(dyn), f"no {dyn}: build first")
    rows.append(("statusd stripped, dynamic", f"{stripped_size(dyn):,} B"))
    static = os.path.join(STATIC_BUILD, "statusd") if STATIC_BUILD else ""
    if static and os.path.isfile(static):
        rows.append(("statusd stripped, static", f"{stripped_size(static):,} B"))

    with tempfile.TemporaryDirectory(prefix="footprint-") as state:
        s = sc.Statusd(["--https", f"{sc.HOST}:0", "--state-dir", state], upload_dir=False, start_timeout=60)
        try:
            st = s.status_json()["server"]
            idle = settle(s)
            rows.append((f"statusd RSS idle ({where})", f"{idle:,} KiB"))
            plain = idle_connections(s, s.port)
            rows.append((f"RSS per idle plaintext connection ({CONNS})", f"{plain:.1f} KiB"))
            ctx = ssl.create_default_context(cafile=os.path.join(state, "cert.pem"))
            tls = idle_connections(s, s.tls_port, ctx)
            rows.append((f"RSS per idle TLS connection ({CONNS})", f"{tls:.1f} KiB"))
        finally:
            s.stop()
    frames, nframes = frame_pool_bytes()
    sc.check(st["frames"]["capacity"] == nframes,
             f"/api/status says {st['frames']['capacity']} frames, board.hpp {nframes}")
    rows.append((f"frame pool ({nframes} frames)", f"{frames:,} B ({kib(frames)})"))
    bufsize = int(board_macro("GUST_HTTP_BUFFER_SIZE", "8192"))
    nbuf = st["buffers"]["capacity"]
    rows.append((f"buffer pool ({nbuf} × {bufsize} B)", f"{nbuf * bufsize:,} B ({kib(nbuf * bufsize)})"))

    print(f"| {BOARD} | figure | value |")
    print("|---|---|---|")
    for name, value in rows:
        print(f"| {BOARD} | {name} | {value} |")
    if sc.FAILURES:
        sys.exit(1)


if __name__ == "__main__":
    os.chdir(ROOT)
    sc.run(main, budget_s=600.0)
