#!/usr/bin/env python3
"""make bench: gust's statusd side by side with nginx, lighttpd, libmicrohttpd
and Tornado, every peer serving GET /hello -> "Hello, world!" on 127.0.0.1.

    python3 tests/bench/bench.py          (make bench; BENCH_QUICK=1 for a smoke run)

Environment: BUILD (where statusd is; default build/host), BENCH_OUT (default
build/bench), BENCH_QUICK=1 (under 2 minutes; the full run stays under 15),
BENCH_PEERS=statusd,nginx,... (a subset; nginx stays in for the ratios),
BENCH_ONLY=tls (figure 6 alone, statusd against nginx: about 3 minutes).

Figures, all from one run:
 1. wrk keep-alive requests/s with p50/p99 latency at 1, 50 and 256
    connections, and connection-per-request (`Connection: close`, 50
    connections); the server pinned to core 0, wrk to core 1. Rounds
    interleave the peers (A B C A B C ...); medians with min-max.
 2. user-space instructions per keep-alive request: the server under
    `valgrind --tool=callgrind`, warmed up, `callgrind_control --zero`, a fixed
    number of sequential requests on one connection, `--dump`, total Ir / N.
 3. server CPU seconds (utime+stime from /proc/<pid>/stat) per 100 000
    requests over the wrk runs.
 4. RSS (VmRSS) idle after a few requests, its anonymous part (RssAnon: what
    is not the program's or its libraries' code pages), the same for statusd
    linked -static, and KiB per idle keep-alive connection = (RSS with N held -
    RSS idle) / N, each held connection having completed one request first
    (so it is a real keep-alive connection).
 5. heap allocations per keep-alive request and per new connection in steady
    state, with tests/bench/malloc_count_rt.c preloaded.
 6. TLS (when statusd --help lists --https): handshakes/s and server CPU per
    handshake with an ECDSA P-256 certificate (TLS 1.2, ECDHE-ECDSA-AES128-GCM,
    no session resumption on either server), KiB per idle TLS connection and
    instructions per TLS keep-alive request, statusd against nginx.
 7. growth: instructions per request on one active connection while 0, 100,
    1 000 and 10 000 idle keep-alive connections are held (statusd on its poll
    and epoll backends, nginx on epoll), and RSS against connections held.

The table goes to stdout and build/bench/report.md; raw numbers to
build/bench/results.json; statusd's callgrind profile to build/bench/callgrind/.
Every server gets the same connection limit (MAX_CONNS) and no keep-alive
request cap that a run could reach. Only 127.0.0.1 is used; every wait is
bounded and a watchdog ends a hung run."""

import json
import os
import platform
import re
import resource
import selectors
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
HOST = "127.0.0.1"
BODY = b"Hello, world!"
REQUEST = b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
MAX_CONNS = 11000  # above the 10 000 held idle, plus wrk's 256
FD_LIMIT = 0  # RLIMIT_NOFILE once raised (main); every peer inherits it
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
ONLY = os.environ.get("BENCH_ONLY", "")
BUILD = os.environ.get("BUILD", "build/host")
OUT = os.path.abspath(os.environ.get("BENCH_OUT", os.path.join(ROOT, "build", "bench")))
T0 = time.monotonic()

if QUICK:
    PLAN = dict(rounds=1, wrk_s=1, warm_s=1, cg_requests=1000, cg_batches=1, cg_requests_py=100,
                held=[100, 1000], growth=[0, 1000], growth_requests=500, growth_nginx=False,
                tls_s=1, tls_held=100, cg_handshakes=5, alloc_requests=1000, budget_s=240)
else:
    PLAN = dict(rounds=3, wrk_s=4, warm_s=2, cg_requests=2000, cg_batches=3, cg_requests_py=300,
                held=[100, 1000, 10000], growth=[0, 100, 1000, 10000], growth_requests=1000, growth_nginx=True,
                tls_s=3, tls_held=1000, cg_handshakes=20, alloc_requests=2000, budget_s=1200)

# wrk configurations: (key, connections, Connection: close)
WRK_CONFIGS = [("ka1", 1, False), ("ka50", 50, False), ("ka256", 256, False), ("close50", 50, True)]


def log(msg):
    print(f"[{time.monotonic() - T0:6.1f}s] {msg}", file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


# ---- processes -------------------------------------------------------------------------

_PROCS = []


def cores():
    """(server core, client core) or (None, None) on a one-core machine."""
    avail = sorted(os.sched_getaffinity(0))
    if len(avail) < 2:
        return None, None
    return avail[0], avail[1]


SERVER_CORE, CLIENT_CORE = cores()


def pinned(argv, core):
    return (["taskset", "-c", str(core)] + argv) if core is not None else argv


def free_port():
    """An ephemeral port for peers whose configuration needs a number."""
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    """A peer's running process: pid (the server itself, also under taskset or
    valgrind, which exec it) and the port it serves on."""

    def __init__(self, peer, argv, env=None, port=None, start_timeout=20.0, tag="", cwd=None):
        self.peer = peer
        logdir = os.path.join(OUT, "logs")
        os.makedirs(logdir, exist_ok=True)
        self.err_path = os.path.join(logdir, f"{peer.name}{tag}.stderr")
        self.out_path = os.path.join(logdir, f"{peer.name}{tag}.stdout")
        full_env = dict(os.environ)
        full_env.update(env or {})
        self._out = open(self.out_path, "wb")
        self._err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._out, stderr=self._err,
                                     env=full_env, cwd=cwd)
        _PROCS.append(self)
        self.pid = self.proc.pid
        self.https_port = None  # from the port line (statusd), or set by Peer.start
        self.port = port if port is not None else self._port_line(start_timeout)
        self._wait_serving(start_timeout)

    def _port_line(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(self.out_path, "rb") as f:
                m = re.search(rb"listening on port (\d+)(?:, https port (\d+))?\n", f.read())
            if m:
                if m.group(2):
                    self.https_port = int(m.group(2))
                return int(m.group(1))
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise BenchError(f"{self.peer.name} printed no port line within {timeout:.0f} s; "
                         f"stderr: {self.stderr()[-1500:]}")

    def _wait_serving(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                c = Conn(self.port, timeout=max(1.0, deadline - time.monotonic()))
                c.get()
                c.close()
                return
            except (OSError, BenchError):
                time.sleep(0.1)
        code = self.proc.poll()
        self.stop()
        raise BenchError(f"{self.peer.name} does not answer GET /hello on port {self.port} "
                         f"(exit {code}); stderr: {self.stderr()[-1500:]}")

    def stderr(self):
        try:
            with open(self.err_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def rss_kib(self, field="VmRSS"):
        """VmRSS, or another /proc/<pid>/status field in KiB (RssAnon: memory
        not backed by a file, i.e. without the program's and libraries' code)."""
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        raise BenchError(f"no {field} for {self.peer.name}")

    def cpu_s(self):
        """utime + stime of every thread, in seconds."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for f in (self._out, self._err):
            if not f.closed:
                f.close()
        if self in _PROCS:
            _PROCS.remove(self)


def stop_all():
    for s in list(_PROCS):
        try:
            s.stop()
        except Exception:  # noqa: BLE001 - best effort at exit
            s.proc.kill()


# ---- clients ---------------------------------------------------------------------------


def response_complete(buf):
    """Length of the first whole response in buf (Content-Length framing), or 0."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return 0
    m = re.search(rb"\r\ncontent-length:\s*(\d+)", buf[:end], re.I)
    if not m:
        raise BenchError(f"response without Content-Length: {bytes(buf[:300])!r}")
    total = end + 4 + int(m.group(1))
    return total if len(buf) >= total else 0


class Conn:
    """One blocking keep-alive connection (optionally TLS) sending GET /hello."""

    def __init__(self, port, timeout=30.0, tls=None):
        s = socket.create_connection((HOST, port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = tls.wrap_socket(s, server_hostname=None) if tls else s
        self.buf = bytearray()

    def get(self):
        self.sock.sendall(REQUEST)
        while True:
            n = response_complete(self.buf)
            if n:
                resp = bytes(self.buf[:n])
                del self.buf[:n]
                if not resp.startswith(b"HTTP/1.1 200") or not resp.endswith(BODY):
                    raise BenchError(f"unexpected response {resp[:300]!r}")
                return resp
            d = self.sock.recv(65536)
            if not d:
                raise BenchError("connection closed by the server")
            self.buf += d

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def hold(port, n, into, timeout=120.0, batch=200):
    """Opens n more keep-alive connections, each completing one GET /hello, and
    appends them to `into` (open and idle). Batches keep the accept queue short."""
    sel = selectors.DefaultSelector()
    deadline = time.monotonic() + timeout
    done = 0
    while done < n:
        pending = {}
        for _ in range(min(batch, n - done)):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex((HOST, port))
            pending[s] = bytearray()
            sel.register(s, selectors.EVENT_WRITE)
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BenchError(f"holding connections: {len(into)} open, {len(pending)} unanswered after "
                                 f"{timeout:.0f} s")
            for key, mask in sel.select(timeout=min(left, 1.0)):
                s = key.fileobj
                if mask & selectors.EVENT_WRITE:
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        raise BenchError(f"connect failed: {os.strerror(err)} after {len(into)} held")
                    s.send(REQUEST)
                    sel.modify(s, selectors.EVENT_READ)
                    continue
                d = s.recv(4096)
                if not d:
                    raise BenchError(f"server closed a connection being held (after {len(into)} held)")
                pending[s] += d
                if response_complete(pending[s]):
                    sel.unregister(s)
                    del pending[s]
                    into.append(s)
                    done += 1
    sel.close()


def hold_tls(port, n, into, ctx, timeout=120.0):
    deadline = time.monotonic() + timeout
    for _ in range(n):
        if time.monotonic() > deadline:
            raise BenchError(f"holding TLS connections: {len(into)} after {timeout:.0f} s")
        c = Conn(port, timeout=10.0, tls=ctx)
        c.get()
        into.append(c)


def release(held):
    for s in held:
        try:
            s.close()
        except OSError:
            pass
    held.clear()


def settle():
    time.sleep(0.5 if QUICK else 1.0)


# ---- peers -----------------------------------------------------------------------------


def tornado_python():
    for py in ("/usr/bin/python3", sys.executable):
        if py and os.path.exists(py) and subprocess.run([py, "-c", "import tornado"],
                                                        capture_output=True).returncode == 0:
            return py
    return None


class Peer:
    name = ""
    label = ""
    fixed_port = False  # the configuration names the port (nginx, lighttpd)

    def __init__(self):
        self.workdir = os.path.join(OUT, self.name)
        os.makedirs(self.workdir, exist_ok=True)

    def version(self):
        return ""

    def capacity(self):
        """Connections it can hold open here (the fd limit may bound it below MAX_CONNS)."""
        return MAX_CONNS

    def argv(self, port, d, **kw):
        """The command line serving on `port`, with its files in folder `d`."""
        raise NotImplementedError

    def start(self, prefix=(), env=None, core=SERVER_CORE, tag="", start_timeout=20.0, **kw):
        port = free_port() if self.fixed_port else None
        https = kw.get("https")
        if https and self.fixed_port:  # (0, cert, key): a port of our choosing
            kw["https"] = https = (free_port(),) + tuple(https[1:])
        # A folder per instance: two jobs may run the same peer at once.
        d = os.path.join(self.workdir, tag.strip("-") or "main")
        os.makedirs(d, exist_ok=True)
        argv = pinned(list(prefix) + self.argv(port if port else 0, d, **kw), core)
        srv = Server(self, argv, env=env, port=port, tag=tag, start_timeout=start_timeout, cwd=d)
        if https and not srv.https_port:
            srv.https_port = https[0]
        if https and not srv.https_port:
            srv.stop()
            raise BenchError(f"{self.name} gave no HTTPS port")
        return srv


class Statusd(Peer):
    name, label = "statusd", "gust statusd"

    def __init__(self, binary, static_binary=None):
        self.binary = binary
        self.static_binary = static_binary if static_binary and os.access(static_binary, os.X_OK) else None
        super().__init__()
        self.help = subprocess.run([binary, "--help"], capture_output=True, text=True).stdout

    def has(self, flag):
        return flag in self.help

    def version(self):
        p = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"], capture_output=True, text=True)
        return "git " + (p.stdout.strip() or "?")

    def argv(self, port, d, poller=None, https=None, max_conns=MAX_CONNS, binary=None):
        os.makedirs(os.path.join(d, "uploads"), exist_ok=True)
        a = [binary or self.binary, "--http", f"{HOST}:{port}", "--max-conns", str(max_conns), "--log-level", "warn",
             "--upload-dir", os.path.join(d, "uploads")]
        if poller:
            a += ["--poller", poller]
        if https:
            a += ["--https", f"{HOST}:{https[0]}", "--cert", https[1], "--key", https[2]]
        return a


class Nginx(Peer):
    name, label = "nginx", "nginx"
    fixed_port = True

    def version(self):
        p = subprocess.run(["nginx", "-v"], capture_output=True, text=True)
        return p.stderr.strip().replace("nginx version: ", "")

    def argv(self, port, d, https=None, max_conns=MAX_CONNS):
        for sub in ("tmp", "logs"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        tls = ""
        if https:
            # The same handshake as statusd's mbedTLS 2.28 can offer: TLS 1.2,
            # ECDHE-ECDSA (or ECDHE-RSA with the RSA certificate) with AES-128-GCM,
            # and no resumption (every handshake full).
            tls = f"""
    server {{
        listen {HOST}:{https[0]} ssl;
        ssl_certificate {https[1]};
        ssl_certificate_key {https[2]};
        ssl_protocols TLSv1.2;
        ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256;
        ssl_ecdh_curve X25519:prime256v1;
        ssl_session_cache off;
        ssl_session_tickets off;
        location = /hello {{ default_type text/plain; return 200 'Hello, world!'; }}
    }}"""
        conf = f"""daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile {FD_LIMIT};
pid {d}/nginx.pid;
error_log {d}/logs/error.log warn;
events {{ worker_connections {max_conns}; use epoll; }}
http {{
    access_log off;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    keepalive_requests 100000000;
    keepalive_timeout 600s;
    server {{
        listen {HOST}:{port} backlog=4096;
        location = /hello {{ default_type text/plain; return 200 'Hello, world!'; }}
    }}{tls}
}}
"""
        path = os.path.join(d, "nginx.conf")
        with open(path, "w") as f:
            f.write(conf)
        return ["nginx", "-p", d + "/", "-e", f"{d}/logs/error.log", "-c", path]


class Lighttpd(Peer):
    name, label = "lighttpd", "lighttpd"
    fixed_port = True

    def version(self):
        p = subprocess.run(["lighttpd", "-v"], capture_output=True, text=True)
        return p.stdout.strip().split(" - ")[0].replace("lighttpd/", "")

    def capacity(self):
        # lighttpd keeps two descriptors per connection (socket and file) and
        # holds at most max-fds / 2.
        return min(MAX_CONNS, FD_LIMIT // 2 - 16)

    def argv(self, port, d):
        www = os.path.join(d, "www")
        os.makedirs(www, exist_ok=True)
        with open(os.path.join(www, "hello"), "wb") as f:
            f.write(BODY)
        conf = f"""server.document-root = "{www}"
server.bind = "{HOST}"
server.port = {port}
server.errorlog = "{d}/error.log"
server.max-fds = {min(FD_LIMIT, 2 * MAX_CONNS)}
server.max-connections = {MAX_CONNS}
server.listen-backlog = 4096
server.max-keep-alive-requests = 65535
server.max-keep-alive-idle = 600
mimetype.assign = ("" => "text/plain")
"""
        path = os.path.join(d, "lighttpd.conf")
        with open(path, "w") as f:
            f.write(conf)
        return ["lighttpd", "-D", "-f", path]


class Mhd(Peer):
    name, label = "mhd", "libmicrohttpd"

    def __init__(self, binary):
        self.binary = binary
        super().__init__()

    def version(self):
        p = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "libmicrohttpd-dev"], capture_output=True,
                           text=True)
        return p.stdout.strip()

    def argv(self, port, d):
        return [self.binary, str(port)]


class Tornado(Peer):
    name, label = "tornado", "Tornado"

    def __init__(self, python):
        self.python = python
        super().__init__()

    def version(self):
        p = subprocess.run([self.python, "-c", "import tornado; print(tornado.version)"], capture_output=True,
                           text=True)
        return p.stdout.strip()

    def argv(self, port, d):
        return [self.python, os.path.join(HERE, "tornado_hello.py"), str(port)]


# ---- tools built for the run -----------------------------------------------------------


def build_tools():
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise BenchError("no C compiler (cc): apt-get install gcc")
    tools = os.path.join(OUT, "tools")
    os.makedirs(tools, exist_ok=True)
    mhd = os.path.join(tools, "mhd_hello")
    so = os.path.join(tools, "malloc_count_rt.so")
    for cmd in ([cc, "-O2", "-Wall", "-Wextra", "-Werror", "-o", mhd, os.path.join(HERE, "mhd_hello.c"),
                 "-lmicrohttpd", "-lpthread"],
                [cc, "-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Werror", "-o", so,
                 os.path.join(HERE, "malloc_count_rt.c"), "-ldl"]):
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise BenchError(f"{' '.join(cmd)} failed:\n{p.stderr}")
    return mhd, so


def raise_fd_limit(want=65536):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            return want
        except (ValueError, OSError):
            pass
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


# ---- figure 1 and 3: wrk -------------------------------------------------------------


def _dur_us(text):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    if not m:
        return None
    return float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6, "m": 60e6}[m.group(2)]


def wrk(port, conns, close, seconds, scheme="http"):
    argv = ["wrk", "-t1", f"-c{conns}", f"-d{int(seconds)}s", "--latency", "--timeout", "5s"]
    if close:
        argv += ["-H", "Connection: close"]
    argv.append(f"{scheme}://{HOST}:{port}/hello")
    p = subprocess.run(pinned(argv, CLIENT_CORE), capture_output=True, text=True, timeout=seconds + 30)
    out = p.stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    if p.returncode != 0 or not rps or not total:
        raise BenchError(f"wrk failed ({p.returncode}): {out[-800:]} {p.stderr[-400:]}")
    pct = dict(re.findall(r"^\s+(\d+)%\s+(\S+)$", out, re.M))
    errors = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        # A close run reads EOF at each server close; wrk counts some as read errors.
        errors += int(m.group(1)) + int(m.group(3)) + int(m.group(4)) + (0 if close else int(m.group(2)))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    bad = int(m.group(1)) if m else 0
    return dict(rps=float(rps.group(1)), requests=int(total.group(1)), p50_us=_dur_us(pct.get("50", "")),
                p99_us=_dur_us(pct.get("99", "")), errors=errors, non2xx=bad)


def bench_wrk(peers, results):
    log(f"wrk: {PLAN['rounds']} round(s) x {len(WRK_CONFIGS)} configurations x {len(peers)} peers, "
        f"{PLAN['wrk_s']:g} s each")
    servers = {p.name: p.start(tag="-wrk") for p in peers}
    runs = {p.name: {k: [] for k, _, _ in WRK_CONFIGS} for p in peers}
    try:
        for p in peers:  # warm-up at the largest concurrency: caches, pools that grow on first use
            wrk(servers[p.name].port, 256, False, PLAN["warm_s"])
        for r in range(PLAN["rounds"]):
            for key, conns, close in WRK_CONFIGS:
                for p in peers:
                    s = servers[p.name]
                    cpu0 = s.cpu_s()
                    w = wrk(s.port, conns, close, PLAN["wrk_s"])
                    w["cpu_s"] = s.cpu_s() - cpu0
                    runs[p.name][key].append(w)
            log(f"wrk round {r + 1} done")
        for p in peers:
            results[p.name]["rss_after_load_kib"] = servers[p.name].rss_kib()
    finally:
        for s in servers.values():
            s.stop()
    for p in peers:
        out = results[p.name]["wrk"] = {}
        for key, _, _ in WRK_CONFIGS:
            rs = runs[p.name][key]
            out[key] = dict(
                rps=spread([w["rps"] for w in rs]), p50_us=spread([w["p50_us"] for w in rs]),
                p99_us=spread([w["p99_us"] for w in rs]),
                cpu_per_100k=spread([w["cpu_s"] / w["requests"] * 1e5 for w in rs if w["requests"]]),
                errors=sum(w["errors"] for w in rs), non2xx=sum(w["non2xx"] for w in rs))


def spread(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return dict(median=statistics.median(values), min=min(values), max=max(values), n=len(values))


# ---- figure 2 and 7: callgrind ---------------------------------------------------------


def valgrind_prefix(peer, tag):
    d = os.path.join(OUT, "callgrind")
    os.makedirs(d, exist_ok=True)
    base = os.path.join(d, f"{peer.name}{tag}")
    for f in os.listdir(d):
        if f.startswith(f"{peer.name}{tag}."):
            os.unlink(os.path.join(d, f))
    # Uncompressed names: each dump is then readable on its own. Start-up and
    # the opening of idle connections run uninstrumented (several times faster).
    return base, ["valgrind", "--tool=callgrind", "--vgdb=yes", "--instr-atstart=no", "--compress-strings=no",
                  "--compress-pos=no", f"--callgrind-out-file={base}.%p.out"]


def callgrind_control(what, pid):
    p = subprocess.run(["callgrind_control"] + what.split() + [str(pid)], capture_output=True, text=True,
                       timeout=60)
    if p.returncode != 0:
        raise BenchError(f"callgrind_control {what} {pid}: {p.stdout} {p.stderr}")


def read_dump(path, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path) as f:
                text = f.read()
            m = re.search(r"^totals:\s+(\d+)", text, re.M) or None
            if m:
                return int(m.group(1)), text
        except FileNotFoundError:
            pass
        time.sleep(0.1)
    raise BenchError(f"no callgrind dump {path} within {timeout:.0f} s")


class Callgrind:
    """A server under callgrind; measure(n) = instructions per request over n
    sequential keep-alive requests on one connection."""

    def __init__(self, peer, tag="", tls=None, **kw):
        self.base, prefix = valgrind_prefix(peer, tag)
        # Unpinned: instruction counts do not depend on the core or the load,
        # so two of these run at once.
        self.server = peer.start(prefix=prefix, core=None, tag="-callgrind" + tag, start_timeout=180.0, **kw)
        self.port = self.server.port
        self.tls = tls
        self.dumps = 0
        self.last_dump = None
        self.conn = None

    def connect(self, port=None, tls=None):
        self.conn = Conn(port or self.port, timeout=60.0, tls=tls)
        for _ in range(50):  # warm-up: first-use paths, lazily mapped pages
            self.conn.get()

    def measure(self, n, work=None, warm=20):
        """Instructions per unit of `work` (default: a request on the kept connection)."""
        work = work or self.conn.get
        callgrind_control("--instr=on", self.server.pid)
        for _ in range(warm):  # the instrumented code's first run
            work()
        callgrind_control("--zero", self.server.pid)
        for _ in range(n):
            work()
        callgrind_control("--dump", self.server.pid)
        callgrind_control("--instr=off", self.server.pid)
        self.dumps += 1
        self.last_dump = f"{self.base}.{self.server.pid}.out.{self.dumps}"
        total, _ = read_dump(self.last_dump)
        return total / n

    def stop(self):
        if self.conn:
            self.conn.close()
        self.server.stop()


def callgrind_jobs(peers, results):
    """Figure 2, one job per peer."""
    def job(p):
        n = PLAN["cg_requests_py"] if isinstance(p, Tornado) else PLAN["cg_requests"]
        log(f"callgrind: {p.name}, {PLAN['cg_batches']} x {n} keep-alive requests")
        cg = Callgrind(p)
        try:
            cg.connect()
            vals = [cg.measure(n) for _ in range(PLAN["cg_batches"])]
            results[p.name]["instr_per_req"] = spread(vals)
            if isinstance(p, Statusd):
                keep = os.path.join(OUT, "callgrind", "statusd-hello.out")
                shutil.copyfile(cg.last_dump, keep)
                results["profile"] = profile(keep, n)
        finally:
            cg.stop()
        log(f"callgrind: {p.name} done")
    return [lambda p=p: job(p) for p in peers]


def growth_jobs(statusd, nginx, results):
    """Figure 7: instructions per request on one active connection while idle
    connections are held; one job per server and backend."""
    cases = [(statusd, "epoll"), (statusd, "poll")] if statusd.has("--poller") else [(statusd, None)]
    if PLAN["growth_nginx"] and nginx:
        cases.append((nginx, None))
    out = results["growth"] = {}

    def job(peer, poller):
        key = f"{peer.name} ({poller or 'epoll'})"
        log(f"growth: {key}, idle {PLAN['growth']}")
        kw = {"poller": poller} if poller else {}
        cg = Callgrind(peer, tag=f"-growth-{poller or 'default'}", **kw)
        held = []
        row = out[key] = {}
        try:
            cg.connect()
            for n_idle in PLAN["growth"]:
                hold(cg.port, n_idle - len(held), held, timeout=300.0)
                row[str(n_idle)] = cg.measure(PLAN["growth_requests"])
        finally:
            release(held)
            cg.stop()
        log(f"growth: {key} done")
    return [lambda c=c: job(*c) for c in cases]


def bench_growth_cpu(statusd, results):
    """Figure 7 natively: server CPU (kernel included) per request on one
    active connection while idle ones are held. poll's scan of every
    descriptor is kernel time, which callgrind does not see."""
    pollers = ["epoll", "poll"] if statusd.has("--poller") else [None]
    out = results["growth_cpu"] = {}
    for poller in pollers:
        key = f"statusd ({poller or 'epoll'})"
        log(f"growth, server CPU: {key}, idle {PLAN['growth']}")
        s = statusd.start(tag=f"-growthcpu-{poller or 'default'}", **({"poller": poller} if poller else {}))
        held = []
        row = out[key] = {}
        try:
            for n in PLAN["growth"]:
                hold(s.port, n - len(held), held)
                settle()
                cpu0 = s.cpu_s()
                w = wrk(s.port, 1, False, PLAN["wrk_s"])
                row[str(n)] = (s.cpu_s() - cpu0) / w["requests"] * 1e6 if w["requests"] else None
        finally:
            release(held)
            s.stop()


def run_pool(jobs, workers=2):
    """Runs (fds, job) pairs on `workers` threads, in order, but only while
    the idle connections the running jobs hold (`fds` each) fit this
    process's RLIMIT_NOFILE. The first error stops the pool and is raised
    once the running jobs end."""
    cond = threading.Condition()
    queue = list(jobs)
    budget = FD_LIMIT - 1000
    holding = [0]
    errors = []

    def worker():
        while True:
            with cond:
                while True:
                    if not queue or errors:
                        return
                    job = next((j for j in queue if holding[0] + j[0] <= budget or not holding[0]), None)
                    if job:
                        break
                    cond.wait()
                queue.remove(job)
                holding[0] += job[0]
            try:
                job[1]()
            except Exception as e:  # noqa: BLE001 - raised below, after the other worker's job
                with cond:
                    errors.append(e)
            finally:
                with cond:
                    holding[0] -= job[0]
                    cond.notify_all()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


# ---- the profile ----------------------------------------------------------------------


def _short_name(fn):
    """A function name without argument lists, for the report."""
    out, depth = [], 0
    for ch in fn:
        if ch == "(":
            depth += 1
            if depth == 1:
                out.append("()")
            continue
        if ch == ")":
            depth -= 1
            continue
        if depth == 0:
            out.append(ch)
    name = "".join(out)
    name = re.sub(r"'\d+$", "", name)
    return name.replace("std::basic_string_view<char, std::char_traits<char> >", "string_view")


def profile(path, n, top=25):
    """Self and inclusive instructions per request by function, from one dump
    written with --compress-strings=no."""
    self_cost, incl_calls = {}, {}
    fn = None
    pending_call = None
    with open(path) as f:
        for line in f:
            if line.startswith("fn="):
                fn = _short_name(line[3:].strip())
                continue
            if line.startswith("cfn="):
                pending_call = _short_name(line[4:].strip())
                continue
            if line.startswith("calls="):
                continue
            if line[:1].isdigit() or line[:1] in "+-*":
                parts = line.split()
                if len(parts) < 2 or fn is None:
                    continue
                cost = int(parts[1])
                if pending_call is not None:
                    if pending_call != fn:  # recursion would count twice
                        incl_calls[fn] = incl_calls.get(fn, 0) + cost
                    pending_call = None
                else:
                    self_cost[fn] = self_cost.get(fn, 0) + cost
    total = sum(self_cost.values())
    rows = sorted(self_cost.items(), key=lambda kv: -kv[1])[:top]
    return dict(total_per_req=total / n,
                top=[dict(fn=k, self=v / n, incl=(v + incl_calls.get(k, 0)) / n) for k, v in rows])


# ---- figure 4: memory ------------------------------------------------------------------


def memory_jobs(peers, results):
    return [lambda p=p: memory(p, results) for p in peers]


def warm_idle(s):
    """A few requests on one connection, closed, then a pause: what "idle" means for RSS."""
    c = Conn(s.port)
    for _ in range(20):
        c.get()
    c.close()
    settle()


def memory(p, results):
    log(f"memory: {p.name}, holding {PLAN['held']}")
    s = p.start(tag="-memory")
    held = []
    try:
        warm_idle(s)
        idle = s.rss_kib()
        results[p.name]["rss_anon_idle_kib"] = s.rss_kib("RssAnon")
        curve, per_conn, actual = {"0": idle}, {}, {}
        for n in PLAN["held"]:
            want = min(n, p.capacity())
            hold(s.port, want - len(held), held)
            settle()
            if not s.alive():
                raise BenchError(f"{p.name} died holding {want} connections")
            curve[str(n)] = s.rss_kib()
            per_conn[str(n)] = (curve[str(n)] - idle) / want
            actual[str(n)] = want
        results[p.name].update(rss_idle_kib=idle, rss_curve_kib=curve, kib_per_conn=per_conn, held=actual)
    finally:
        release(held)
        s.stop()


def rss_limit_jobs(peers, results):
    jobs = [lambda p=p: rss_vs_limit(p, results) for p in peers if isinstance(p, (Statusd, Nginx))]
    static = [p for p in peers if isinstance(p, Statusd) and p.static_binary]
    return jobs + [lambda p=p: rss_static(p, results) for p in static]


def rss_static(p, results):
    """statusd linked -static (the same objects; what a board that ships one
    binary runs): no shared libraries mapped, so RSS is its own pages."""
    s = p.start(tag="-static", binary=p.static_binary)
    try:
        warm_idle(s)
        results[p.name]["rss_idle_static_kib"] = s.rss_kib()
        results[p.name]["rss_anon_idle_static_kib"] = s.rss_kib("RssAnon")
    finally:
        s.stop()


def rss_vs_limit(p, results):
    """Idle RSS as the connection limit changes: the servers that size their
    connection tables at start pay for them here, not per connection."""
    row = results[p.name]["rss_idle_by_limit_kib"] = {}
    for limit in (256, 1024, MAX_CONNS):
        s = p.start(tag=f"-limit{limit}", max_conns=limit)
        try:
            warm_idle(s)
            row[str(limit)] = s.rss_kib()
        finally:
            s.stop()


# ---- figure 5: allocations -------------------------------------------------------------


def read_alloc_count(server, path, timeout=10.0):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    os.kill(server.pid, signal.SIGRTMIN + 7)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path) as f:
                text = f.read()
            if text.endswith("\n"):
                return int(text.split()[0])
        except FileNotFoundError:
            pass
        time.sleep(0.02)
    raise BenchError(f"{server.peer.name}: no allocation count within {timeout:.0f} s (preload refused?)")


def alloc_jobs(peers, so, results):
    return [lambda p=p: allocs(p, so, results) for p in peers]


def allocs(p, so, results):
    n = PLAN["alloc_requests"]
    fresh = 200
    log(f"allocations: {p.name}")
    path = os.path.join(OUT, "logs", f"{p.name}.allocs")
    s = p.start(env={"LD_PRELOAD": so, "MALLOC_COUNT_FILE": path}, tag="-allocs")
    try:
        c = Conn(s.port)
        for _ in range(200):
            c.get()
        a0 = read_alloc_count(s, path)
        for _ in range(n):
            c.get()
        a1 = read_alloc_count(s, path)
        c.close()
        for _ in range(fresh):
            c = Conn(s.port)
            c.get()
            c.close()
        a2 = read_alloc_count(s, path)
        results[p.name]["allocs_per_req"] = (a1 - a0) / n
        results[p.name]["allocs_per_conn"] = (a2 - a1) / fresh
    finally:
        s.stop()


# ---- figure 6: TLS ---------------------------------------------------------------------


def make_cert(kind="ecdsa"):
    """A self-signed certificate and key: ECDSA P-256 or RSA 2048."""
    d = os.path.join(OUT, "tls")
    os.makedirs(d, exist_ok=True)
    cert, key = os.path.join(d, f"{kind}-cert.pem"), os.path.join(d, f"{kind}-key.pem")
    newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"] if kind == "ecdsa" else \
        ["-newkey", "rsa:2048"]
    if not (os.path.exists(cert) and os.path.exists(key)):
        p = subprocess.run(["openssl", "req", "-x509"] + newkey +
                           ["-nodes", "-keyout", key, "-out", cert, "-days", "3650", "-subj", "/CN=127.0.0.1"],
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise BenchError(f"openssl could not make the {kind} certificate: {p.stderr}")
    return cert, key


# ECDHE groups the handshakes are measured with: the client offers only that
# one (P-256), or its default list, which both servers settle on X25519 from.
CURVES = ("P-256", "X25519")
# The RSA 2048 certificate's handshakes: ECDHE P-256, ECDHE-RSA-AES128-GCM.
RSA = "RSA-2048"


def tls_client_ctx(curve="P-256", suite="ECDHE-ECDSA-AES128-GCM-SHA256"):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(suite)
    if curve == "P-256":
        ctx.set_ecdh_curve("prime256v1")
    return ctx


def tls_setup(statusd, results):
    """The certificate and client context, or None when TLS is not measured."""
    out = results["tls"] = {}
    if not statusd.has("--https"):
        out["skipped"] = "n/a (no --https)"
        log("TLS: statusd --help lists no --https: n/a")
        return None
    if not shutil.which("openssl"):
        out["skipped"] = "n/a (no openssl to make the certificate)"
        return None
    cert, key = make_cert()
    ctxs = {c: tls_client_ctx(c) for c in CURVES}
    ctxs[RSA] = tls_client_ctx("P-256", "ECDHE-RSA-AES128-GCM-SHA256")
    return cert, key, ctxs


def full_handshakes(port, ctx, seconds, threads=16):
    """Connection-per-request HTTPS GET /hello from `threads` threads for
    `seconds`; the client never offers a session, so every handshake is full
    (wrk resumes its previous session, which statusd accepts and nginx here
    does not). Returns (handshakes done, errors). The handshake itself runs
    without the GIL, so threads overlap."""
    stop = time.monotonic() + seconds
    counts = [0] * threads
    errors = [0] * threads

    def run(k):
        while time.monotonic() < stop:
            try:
                c = Conn(port, timeout=10.0, tls=ctx)
                c.sock.sendall(b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                data = b""
                while True:
                    d = c.sock.recv(4096)
                    if not d:
                        break
                    data += d
                c.close()
                if data.startswith(b"HTTP/1.1 200") and data.endswith(BODY):
                    counts[k] += 1
                else:
                    errors[k] += 1
            except (OSError, ssl.SSLError):
                errors[k] += 1

    ts = [threading.Thread(target=run, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(counts), sum(errors)


def handshake_rounds(s, port, ctx, row, kind):
    """PLAN["rounds"] rounds of full handshakes against server `s`: handshakes/s
    and server CPU ms per handshake into row[... kind]; returns the errors."""
    hs, cpu, errs = [], [], 0
    for _ in range(PLAN["rounds"]):
        cpu0, t0 = s.cpu_s(), time.monotonic()
        n, e = full_handshakes(port, ctx, PLAN["tls_s"])
        errs += e
        if n:
            hs.append(n / (time.monotonic() - t0))
            cpu.append((s.cpu_s() - cpu0) / n * 1e3)
    row[f"handshakes_per_s {kind}"] = spread(hs)
    row[f"cpu_ms_per_handshake {kind}"] = spread(cpu)
    return errs


def bench_tls_load(statusd, nginx, setup, results):
    """Figure 6 on a quiet machine: handshakes/s, CPU per handshake, KiB per idle TLS connection."""
    cert, key, ctxs = setup
    ctx = ctxs["P-256"]
    for p in (statusd, nginx):
        log(f"TLS: {p.name}")
        s = p.start(tag="-tls", https=(0, cert, key))
        tport = s.https_port
        row = results["tls"].setdefault(p.name, {})
        held = []
        try:
            c = Conn(tport, tls=ctx)
            for _ in range(20):
                c.get()
            c.close()
            settle()
            idle = s.rss_kib()
            hold_tls(tport, PLAN["tls_held"], held, ctx)
            settle()
            row["kib_per_conn"] = (s.rss_kib() - idle) / PLAN["tls_held"]
            release(held)
            errs = sum(handshake_rounds(s, tport, ctxs[curve], row, curve) for curve in CURVES)
            row["ka50_rps"] = wrk(tport, 50, False, PLAN["tls_s"], scheme="https")["rps"]
        finally:
            release(held)
            s.stop()
        # The same full handshakes with the RSA 2048 certificate.
        s = p.start(tag="-tls-rsa", https=(0,) + make_cert("rsa"))
        try:
            row["handshake_errors"] = errs + handshake_rounds(s, s.https_port, ctxs[RSA], row, RSA)
        finally:
            s.stop()


def tls_callgrind_jobs(statusd, nginx, setup, results):
    cert, key, ctxs = setup
    ctx = ctxs["P-256"]

    def job(p):
        log(f"TLS: {p.name} under callgrind")
        cg = Callgrind(p, tag="-tls", https=(0, cert, key))
        row = results["tls"].setdefault(p.name, {})

        def instr_per_handshake(cg, kind):
            def handshake():
                c = Conn(cg.server.https_port, timeout=60.0, tls=ctxs[kind])  # a fresh session: a full handshake
                c.get()
                c.close()
            return spread([cg.measure(PLAN["cg_handshakes"], handshake, warm=2) for _ in range(PLAN["cg_batches"])])
        try:
            cg.connect(port=cg.server.https_port, tls=ctx)
            n = max(100, PLAN["cg_requests"] // 2)
            row["instr_per_req"] = spread([cg.measure(n) for _ in range(PLAN["cg_batches"])])
            if isinstance(p, Statusd):
                keep = os.path.join(OUT, "callgrind", "statusd-tls-request.out")
                shutil.copyfile(cg.last_dump, keep)
                results["profile_tls_request"] = profile(keep, n, top=12)
            for curve in CURVES[::-1]:  # P-256 last: its dump is kept
                row[f"instr_per_handshake {curve}"] = instr_per_handshake(cg, curve)
            if isinstance(p, Statusd):
                keep = os.path.join(OUT, "callgrind", "statusd-tls-handshake.out")
                shutil.copyfile(cg.last_dump, keep)
                results["profile_tls_handshake"] = profile(keep, PLAN["cg_handshakes"], top=12)
        finally:
            cg.stop()
        cg = Callgrind(p, tag="-tls-rsa", https=(0,) + make_cert("rsa"))
        try:
            row[f"instr_per_handshake {RSA}"] = instr_per_handshake(cg, RSA)
        finally:
            cg.stop()
    return [lambda p=p: job(p) for p in (statusd, nginx)]


# ---- the report ------------------------------------------------------------------------


def fmt_num(v, digits=None):
    if v is None:
        return "n/a"
    if digits is None:
        digits = 0 if abs(v) >= 100 else (1 if abs(v) >= 10 else 2)
    s = f"{v:,.{digits}f}".replace(",", "\u202f")
    return s


def fmt_spread(sp, digits=None, scale=1.0):
    if not sp:
        return "n/a"
    med = fmt_num(sp["median"] * scale, digits)
    if sp.get("n", 1) > 1:
        return f"{med} ({fmt_num(sp['min'] * scale, digits)}–{fmt_num(sp['max'] * scale, digits)})"
    return med


def ratio(v, ref):
    if v is None or ref in (None, 0):
        return ""
    return f" ×{v / ref:.2f}"


def med(sp):
    return sp["median"] if sp else None


def dig(d, *keys):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def report(peers, results, meta):
    names = [p.name for p in peers]
    head = "| Figure | " + " | ".join(p.label for p in peers) + " |\n|---|" + "---|" * len(peers) + "\n"
    rows = []

    def row(title, get, fmt, ref_ratio=True):
        ref = get(results.get("nginx", {})) if "nginx" in results else None
        cells = []
        for n in names:
            v = get(results.get(n, {}))
            text = fmt(v)
            if ref_ratio and n != "nginx":
                text += ratio(med(v) if isinstance(v, dict) else v, med(ref) if isinstance(ref, dict) else ref)
            cells.append(text)
        rows.append(f"| {title} | " + " | ".join(cells) + " |")

    for key, conns, close in WRK_CONFIGS:
        what = f"{conns} conn{'s' if conns > 1 else ''}" + (", Connection: close" if close else " keep-alive")
        row(f"requests/s, {what}", lambda r, k=key: dig(r, "wrk", k, "rps"), lambda v: fmt_spread(v, 0))
        if not close:
            row(f"p50 / p99 latency µs, {what}",
                lambda r, k=key: (dig(r, "wrk", k, "p50_us"), dig(r, "wrk", k, "p99_us")),
                lambda v: f"{fmt_spread(v[0], 0)} / {fmt_spread(v[1], 0)}", ref_ratio=False)
    row("instructions / keep-alive request (callgrind)", lambda r: r.get("instr_per_req"),
        lambda v: fmt_spread(v, 0))
    row("server CPU s / 100 000 requests, 50 keep-alive", lambda r: dig(r, "wrk", "ka50", "cpu_per_100k"),
        lambda v: fmt_spread(v, 2))
    row("server CPU s / 100 000 requests, Connection: close", lambda r: dig(r, "wrk", "close50", "cpu_per_100k"),
        lambda v: fmt_spread(v, 2))
    row("RSS idle, KiB", lambda r: r.get("rss_idle_kib"), lambda v: fmt_num(v, 0))
    row("of which anonymous (not code pages), KiB", lambda r: r.get("rss_anon_idle_kib"), lambda v: fmt_num(v, 0))
    if any(results.get(n, {}).get("rss_idle_static_kib") for n in names):
        row("RSS idle linked -static (anonymous), KiB",
            lambda r: (r.get("rss_idle_static_kib"), r.get("rss_anon_idle_static_kib")),
            lambda v: "–" if v[0] is None else f"{fmt_num(v[0], 0)} ({fmt_num(v[1], 0)})", ref_ratio=False)
    for n in PLAN["held"]:
        if n >= 1000:
            row(f"KiB per idle keep-alive connection, {fmt_num(n, 0)} held",
                lambda r, n=n: dig(r, "kib_per_conn", str(n)), lambda v: fmt_num(v, 2))
    if len(PLAN["held"]) >= 2:
        lo, hi = PLAN["held"][-2], PLAN["held"][-1]

        def marginal(r):
            c, h = r.get("rss_curve_kib") or {}, r.get("held") or {}
            if str(lo) not in c or str(hi) not in c or h.get(str(hi), 0) <= h.get(str(lo), 0):
                return None
            return (c[str(hi)] - c[str(lo)]) / (h[str(hi)] - h[str(lo)])
        row(f"KiB per idle connection from {fmt_num(lo, 0)} to {fmt_num(hi, 0)} held (slope)", marginal,
            lambda v: fmt_num(v, 2))
    row("RSS after the wrk runs, KiB", lambda r: r.get("rss_after_load_kib"), lambda v: fmt_num(v, 0))
    row("heap allocations / keep-alive request", lambda r: r.get("allocs_per_req"), lambda v: fmt_num(v, 2),
        ref_ratio=False)
    row("heap allocations / new connection + request", lambda r: r.get("allocs_per_conn"),
        lambda v: fmt_num(v, 1), ref_ratio=False)

    text = [f"# make bench{' (BENCH_QUICK=1)' if QUICK else ''}: GET /hello, {meta['date']}", ""]
    text.append(f"Machine: {meta['machine']}. Command: `{meta['command']}`; "
                f"{meta['elapsed_s']:.0f} s. Server pinned to core {SERVER_CORE}, clients to core {CLIENT_CORE}. "
                f"Load average {meta['load'][0]:.1f} at the start, {meta['load'][1]:.1f} at the end "
                "(work other than the bench's slows what is timed, not what is counted).")
    text.append("Versions: " + ", ".join(f"{p.label} {results[p.name].get('version', '')}" for p in peers) + ".")
    if not ONLY:  # BENCH_ONLY=tls: the TLS section alone
        text.append("")
        text.append(f"Medians of {PLAN['rounds']} interleaved round(s) (min–max); ×r = ratio to nginx "
                    f"in the same run. wrk -t1, {PLAN['wrk_s']:g} s per run. "
                    f"Every server allows {MAX_CONNS} connections.")
        text.append("")
        text.append(head + "\n".join(rows))
        notes = []
        for n in names:
            for key, _, _ in WRK_CONFIGS:
                e = dig(results, n, "wrk", key)
                if e and (e["errors"] or e["non2xx"]):
                    notes.append(f"{n} {key}: {e['errors']} socket errors, {e['non2xx']} non-2xx answers")
        if notes:
            text.append("")
            text.append("wrk reported: " + "; ".join(notes) + ".")
        if "mhd" in names:
            text.append("")
            text.append("libmicrohttpd 0.9.75 on its epoll loop stalls at random with a hundred or more busy "
                        "connections (one check: 185 requests/s at 128 connections, 33 600 at 129; its poll loop "
                        "does not); a collapsed rate of its is that stall, not its speed.")
        text.append("")
        text.append("KiB per idle connection = (RSS with N held − RSS idle) / N, VmRSS from /proc; every held "
                    "connection completed one GET /hello first, so each is a real idle keep-alive connection. "
                    "Instructions: callgrind's Ir over sequential requests on one keep-alive connection after "
                    "warm-up, all user-space code in the process (libc included). Allocations: "
                    "tests/bench/malloc_count_rt.c preloaded (Tornado's figure is CPython's malloc calls; "
                    "pymalloc serves most small objects without one).")

        g, gc = results.get("growth") or {}, results.get("growth_cpu") or {}
        if g or gc:
            steps = PLAN["growth"]
            text += ["", "## Cost per request on one active connection with idle keep-alive connections held", "",
                     "| Server, figure | " + " | ".join(f"{fmt_num(s, 0)} idle" for s in steps) + " |",
                     "|---|" + "---|" * len(steps)]
            for k, v in g.items():
                text.append(f"| {k}, instructions (callgrind) | " +
                            " | ".join(fmt_num(v.get(str(s)), 0) for s in steps) + " |")
            for k, v in gc.items():
                text.append(f"| {k}, server CPU µs, kernel included (wrk -c1) | " +
                            " | ".join(fmt_num(v.get(str(s)), 1) for s in steps) + " |")
        curve_keys = ["0"] + [str(n) for n in PLAN["held"]]
        text += ["", "## RSS (KiB) against idle keep-alive connections held", "",
                 "| Server | " + " | ".join(fmt_num(int(k), 0) for k in curve_keys) + " |",
                 "|---|" + "---|" * len(curve_keys)]
        for p in peers:
            c = results[p.name].get("rss_curve_kib") or {}
            text.append(f"| {p.label} | " + " | ".join(fmt_num(c.get(k), 0) for k in curve_keys) + " |")

        short = [f"{p.label} held {fmt_num(results[p.name]['held'][k], 0)} for the {fmt_num(int(k), 0)} column "
                 f"(its limit under RLIMIT_NOFILE {FD_LIMIT})"
                 for p in peers for k in (results[p.name].get("held") or {})
                 if results[p.name]["held"][k] != int(k)]
        if short:
            text += ["", "; ".join(short) + "; its KiB per connection divides by what it held."]
        lim = [(p, results[p.name]["rss_idle_by_limit_kib"]) for p in peers
               if results[p.name].get("rss_idle_by_limit_kib")]
        if lim:
            keys = sorted(lim[0][1].keys(), key=int)
            text += ["", "## RSS idle (KiB) against the configured connection limit", "",
                     "What a larger connection limit (statusd `--max-conns`, nginx `worker_connections`) costs "
                     "before any client connects: a table built at start shows here; one built on first use "
                     "(statusd's) costs only address space.", "",
                     "| Server | " + " | ".join(f"limit {fmt_num(int(k), 0)}" for k in keys) + " | KiB per slot |",
                     "|---|" + "---|" * (len(keys) + 1)]
            for p, r in lim:
                lo, hi = keys[0], keys[-1]
                slot = (r[hi] - r[lo]) / (int(hi) - int(lo)) if lo in r and hi in r else None
                text.append(f"| {p.label} | " + " | ".join(fmt_num(r.get(k), 0) for k in keys) +
                            f" | {fmt_num(slot, 2)} |")

    t = results.get("tls")
    if t is not None:
        text += ["", "## TLS (ECDSA P-256 certificate, TLS 1.2 ECDHE-ECDSA-AES128-GCM-SHA256; "
                     f"{RSA}: ECDHE-RSA-AES128-GCM-SHA256)", ""]
    if t is None:
        pass
    elif t.get("skipped"):
        text.append(f"statusd against nginx: {t['skipped']}.")
    else:
        text += ["| Figure | gust statusd | nginx |", "|---|---|---|"]
        tls_rows = []
        for curve in CURVES:
            tls_rows += [(f"server CPU ms / full handshake and its request, ECDHE {curve}",
                          f"cpu_ms_per_handshake {curve}", 2),
                         (f"instructions / full handshake and its request, ECDHE {curve} (callgrind)",
                          f"instr_per_handshake {curve}", 0)]
        tls_rows += [(f"server CPU ms / full handshake and its request, {RSA} certificate, ECDHE P-256",
                      f"cpu_ms_per_handshake {RSA}", 2),
                     (f"instructions / full handshake and its request, {RSA} certificate (callgrind)",
                      f"instr_per_handshake {RSA}", 0),
                     (f"full handshakes/s seen, {RSA} (client-bound as below)", f"handshakes_per_s {RSA}", 0)]
        tls_rows += [("instructions / TLS keep-alive request (callgrind)", "instr_per_req", 0),
                     ("full handshakes/s seen, P-256 (client-bound: 16 Python threads on one core)",
                      "handshakes_per_s P-256", 0)]
        for title, k, d in tls_rows:
            a, b = dig(t, "statusd", k), dig(t, "nginx", k)
            text.append(f"| {title} | {fmt_spread(a, d)}{ratio(med(a), med(b))} | {fmt_spread(b, d)} |")
        a, b = dig(t, "statusd", "kib_per_conn"), dig(t, "nginx", "kib_per_conn")
        text.append(f"| KiB per idle TLS connection ({PLAN['tls_held']} held) | {fmt_num(a, 1)}{ratio(a, b)} | "
                    f"{fmt_num(b, 1)} |")
        a, b = dig(t, "statusd", "ka50_rps"), dig(t, "nginx", "ka50_rps")
        text.append(f"| TLS keep-alive requests/s, 50 conns | {fmt_num(a, 0)}{ratio(a, b)} | {fmt_num(b, 0)} |")

    for key, title, path in (
            ("profile", "per keep-alive GET /hello", "statusd-hello.out"),
            ("profile_tls_request", "per TLS keep-alive GET /hello", "statusd-tls-request.out"),
            ("profile_tls_handshake", "per full TLS handshake (ECDHE P-256) and its request",
             "statusd-tls-handshake.out")):
        prof = results.get(key)
        if not prof:
            continue
        text += ["", f"## Where statusd's instructions go: {title} (callgrind; total "
                     f"{fmt_num(prof['total_per_req'], 0)})", "",
                 "| self | inclusive | function |", "|---:|---:|---|"]
        for r in prof["top"]:
            fn = r["fn"] if len(r["fn"]) < 110 else r["fn"][:107] + "..."
            # A coroutine resumed through its callees counts them more than once.
            incl = fmt_num(r["incl"], 0) if r["incl"] <= prof["total_per_req"] * 1.001 else "(resumes)"
            text.append(f"| {fmt_num(r['self'], 0)} | {incl} | `{fn}` |")
        text.append("")
        text.append(f"All of it: `callgrind_annotate build/bench/callgrind/{path}` (the last batch, not divided).")
    return "\n".join(text) + "\n"


def machine():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"^model name\s*:\s*(.+)$", f.read(), re.M)
            model = m.group(1).strip() if m else ""
    except OSError:
        pass
    return f"{model or platform.machine()}, {os.cpu_count()} cores (shared), Linux {platform.release()}"


# ---- main ------------------------------------------------------------------------------


def main():
    global FD_LIMIT
    os.makedirs(OUT, exist_ok=True)
    FD_LIMIT = raise_fd_limit()
    if FD_LIMIT < MAX_CONNS + 1000:
        raise BenchError(f"RLIMIT_NOFILE is {FD_LIMIT}; the bench needs {MAX_CONNS + 1000} (ulimit -n)")
    if CLIENT_CORE is not None:
        os.sched_setaffinity(0, {CLIENT_CORE})  # every client, and the peers' launchers, off the server's core
    for tool in ("wrk", "valgrind", "callgrind_control", "nginx", "lighttpd", "taskset"):
        if not shutil.which(tool):
            raise BenchError(f"{tool} is missing: `make bench` installs it (or apt-get install the bench-deps)")
    statusd_bin = os.path.abspath(os.path.join(ROOT, BUILD, "statusd")) if not os.path.isabs(BUILD) else \
        os.path.join(BUILD, "statusd")
    if not os.access(statusd_bin, os.X_OK):
        raise BenchError(f"no statusd in {BUILD}: make BUILD={BUILD} all")
    py = tornado_python()
    if not py:
        raise BenchError("no python3 with tornado: apt-get install python3-tornado")
    mhd_bin, so = build_tools()

    statusd, nginx = Statusd(statusd_bin, os.path.join(os.path.dirname(statusd_bin), "static", "statusd")), Nginx()
    peers = [statusd, nginx, Lighttpd(), Mhd(mhd_bin), Tornado(py)]
    want = os.environ.get("BENCH_PEERS")
    if ONLY == "tls":
        want = "statusd"
    elif ONLY:
        raise BenchError(f"BENCH_ONLY={ONLY}: only 'tls' is known")
    if want:
        keep = set(want.split(",")) | {"nginx"}
        peers = [p for p in peers if p.name in keep]
    results = {p.name: {"version": p.version()} for p in peers}
    load_before = os.getloadavg()[0]

    watchdog = threading.Timer(PLAN["budget_s"], lambda: (log(f"still running after {PLAN['budget_s']} s: "
                                                               "stopping"), stop_all(), os._exit(1)))
    watchdog.daemon = True
    watchdog.start()
    try:
        # Timed figures first, alone on the machine.
        if not ONLY:
            bench_wrk(peers, results)
        if statusd in peers and not ONLY:
            bench_growth_cpu(statusd, results)
        tls = tls_setup(statusd, results) if statusd in peers else None
        if tls:
            bench_tls_load(statusd, nginx, tls, results)
        if ONLY:
            run_pool([(0, j) for j in (tls_callgrind_jobs(statusd, nginx, tls, results) if tls else [])])
            return finish(peers, results, load_before)
        # Instructions, memory and allocation counts do not depend on the
        # load: two jobs at a time, the slowest first.
        cg = callgrind_jobs(peers, results)
        mem = memory_jobs(peers, results)
        grow = growth_jobs(statusd, nginx, results) if statusd in peers else []
        jobs = [(0, j) for j in cg[::-1]]  # Tornado's, the slowest, first
        holding = [(max(PLAN["held"]), j) for j in mem[::-1]] + [(max(PLAN["growth"]), j) for j in grow]
        jobs = [j for pair in zip(jobs, holding) for j in pair] + jobs[len(holding):] + holding[len(jobs):]
        jobs += [(0, j) for j in (tls_callgrind_jobs(statusd, nginx, tls, results) if tls else [])]
        jobs += [(0, j) for j in rss_limit_jobs(peers, results) + alloc_jobs(peers, so, results)]
        run_pool(jobs)
    finally:
        stop_all()
        watchdog.cancel()
    finish(peers, results, load_before)


def finish(peers, results, load_before):
    meta = dict(date=time.strftime("%Y-%m-%d"), machine=machine(), load=(load_before, os.getloadavg()[0]),
                command="make bench" + (" BENCH_QUICK=1" if QUICK else "") + (f" BENCH_ONLY={ONLY}" if ONLY else "")
                + (f" (statusd from {BUILD})" if BUILD != "build/host" else ""),
                elapsed_s=time.monotonic() - T0)
    results["meta"] = meta
    text = report(peers, results, meta)
    with open(os.path.join(OUT, "report.md"), "w") as f:
        f.write(text)
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump(results, f, indent=1, sort_keys=True)
    print(text)
    log(f"report: {os.path.join(OUT, 'report.md')}")


if __name__ == "__main__":
    try:
        main()
    except BenchError as e:
        stop_all()
        log(f"bench: {e}")
        sys.exit(1)
    except KeyboardInterrupt:
        stop_all()
        sys.exit(130)
