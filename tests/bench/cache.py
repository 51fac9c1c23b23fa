#!/usr/bin/env python3
"""GET /api/status on statusd with and without its response cache, same run.

    python3 tests/bench/cache.py        (BENCH_QUICK=1: about 15 s)

Two statusd processes, --status-cache-ms 0 and --status-cache-ms 500, pinned
to one core with wrk on another (taskset, when there are two cores). After a
warm-up, rounds interleave the two (A B, then B A, ...): wrk -t1 -c50 for a few
seconds each. Reported per configuration: requests/s as the median (min-max)
of the rounds, median p50/p99 latency, and system reads per request (from
statusd's status_reads_total, read through a probe URL that is its own cache
key). Env: BUILD (default build/host), BENCH_OUT (default build/bench; the
JSON goes to cache.json there), BENCH_QUICK=1. Not a test: it asserts nothing
beyond the runs succeeding."""
import json
import os
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request

sys.dont_write_bytecode = True

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
HOST = "127.0.0.1"
BUILD = os.environ.get("BUILD", "build/host")
OUT = os.path.abspath(os.environ.get("BENCH_OUT", os.path.join(ROOT, "build", "bench")))
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
ROUNDS, SECONDS, CONNS = (2, 1, 50) if QUICK else (5, 3, 50)
CONFIGS = [("uncached", "0"), ("cached 500 ms", "500")]


def log(msg):
    print(msg, flush=True)


def cores():
    avail = sorted(os.sched_getaffinity(0))
    return (avail[0], avail[1]) if len(avail) >= 2 and shutil.which("taskset") else (None, None)


SERVER_CORE, CLIENT_CORE = cores()


def pinned(argv, core):
    return (["taskset", "-c", str(core)] + argv) if core is not None else argv


class Statusd:
    def __init__(self, cache_ms):
        binary = os.path.join(ROOT, BUILD, "statusd") if not os.path.isabs(BUILD) else os.path.join(BUILD, "statusd")
        if not os.access(binary, os.X_OK):
            sys.exit(f"no statusd in {BUILD}: run `make BUILD={BUILD}` first")
        self.proc = subprocess.Popen(pinned([binary, "--http", f"{HOST}:0", "--status-cache-ms", cache_ms,
                                             "--log-level", "warn"], SERVER_CORE),
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd="/tmp")
        self.port = self._port()
        self.probes = 0

    def _port(self):
        deadline = time.monotonic() + 10
        line = b""
        while time.monotonic() < deadline and b"\n" not in line:
            r, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 256)
                if not chunk:
                    break
                line += chunk
        m = re.match(rb"statusd listening on port (\d+)", line)
        if not m:
            self.stop()
            sys.exit(f"statusd did not start: {line!r}")
        return int(m.group(1))

    def reads(self):
        """status_reads_total, excluding this probe's own read."""
        self.probes += 1
        with urllib.request.urlopen(f"http://{HOST}:{self.port}/api/status?probe={self.probes}", timeout=5) as r:
            return json.loads(r.read())["status_reads_total"] - 1

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def _us(text):
    m = re.match(r"([\d.]+)(us|ms|s)$", text or "")
    return float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(2)] if m else None


def wrk(port, seconds):
    argv = ["wrk", "-t1", f"-c{CONNS}", f"-d{seconds}s", "--latency", "--timeout", "5s",
            f"http://{HOST}:{port}/api/status"]
    p = subprocess.run(pinned(argv, CLIENT_CORE), capture_output=True, text=True, timeout=seconds + 30)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", p.stdout)
    total = re.search(r"(\d+) requests in", p.stdout)
    if p.returncode != 0 or not rps or not total or "Non-2xx" in p.stdout or "Socket errors" in p.stdout:
        sys.exit(f"wrk failed ({p.returncode}): {p.stdout[-800:]} {p.stderr[-400:]}")
    pct = dict(re.findall(r"^\s+(\d+)%\s+(\S+)$", p.stdout, re.M))
    return dict(rps=float(rps.group(1)), requests=int(total.group(1)), p50_us=_us(pct.get("50")),
                p99_us=_us(pct.get("99")))


def main():
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: sh boards/deps.sh wrk")
    servers = {name: Statusd(ms) for name, ms in CONFIGS}
    runs = {name: [] for name, _ in CONFIGS}
    reads = {name: 0 for name, _ in CONFIGS}
    requests = {name: 0 for name, _ in CONFIGS}
    try:
        log(f"statusd from {BUILD}; server core {SERVER_CORE}, wrk core {CLIENT_CORE}; "
            f"{ROUNDS} rounds x {SECONDS} s, {CONNS} connections, GET /api/status")
        for name, _ in CONFIGS:
            wrk(servers[name].port, 1)  # warm-up
        for r in range(ROUNDS):
            order = CONFIGS if r % 2 == 0 else CONFIGS[::-1]
            for name, _ in order:
                s = servers[name]
                before = s.reads()
                w = wrk(s.port, SECONDS)
                reads[name] += s.reads() - before - 1  # the first probe's own read
                requests[name] += w["requests"]
                runs[name].append(w)
            log(f"round {r + 1}: " + ", ".join(f"{n} {runs[n][-1]['rps']:.0f} req/s" for n, _ in CONFIGS))
    finally:
        for s in servers.values():
            s.stop()

    summary = {}
    log("")
    log("| GET /api/status | requests/s, median (min-max) | p50 | p99 | system reads per request |")
    log("|---|---|---|---|---|")
    for name, _ in CONFIGS:
        rps = [w["rps"] for w in runs[name]]
        p50 = statistics.median(w["p50_us"] for w in runs[name] if w["p50_us"] is not None)
        p99 = statistics.median(w["p99_us"] for w in runs[name] if w["p99_us"] is not None)
        per = reads[name] / max(1, requests[name])
        summary[name] = dict(rps_median=statistics.median(rps), rps_min=min(rps), rps_max=max(rps),
                             p50_us=p50, p99_us=p99, reads_per_request=per, runs=runs[name])
        log(f"| {name} | {statistics.median(rps):,.0f} ({min(rps):,.0f}-{max(rps):,.0f}) | "
            f"{p50 / 1000:.2f} ms | {p99 / 1000:.2f} ms | {per:.5f} |")
    ratio = summary[CONFIGS[1][0]]["rps_median"] / summary[CONFIGS[0][0]]["rps_median"]
    log(f"\ncached / uncached: {ratio:.1f}x requests/s")
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "cache.json"), "w") as f:
        json.dump(dict(rounds=ROUNDS, seconds=SECONDS, connections=CONNS, ratio=ratio, configs=summary), f, indent=1)


if __name__ == "__main__":
    main()
