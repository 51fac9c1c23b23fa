"""Shared helpers for the statusd integration tests (not a test itself).

Each tests/integration/test_http_*.py imports this module through sys.path:

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
    import statusd_common as sc

What it offers:
  * Statusd: starts $BUILD/statusd (BUILD defaults to build/host) on 127.0.0.1
    port 0 in its own temporary directory, waits (10 s at most) for the line
    "statusd listening on port N", and stop() sends SIGTERM, waits, and checks
    the exit status is 0 and stderr holds nothing alarming.
  * RawConn: a raw TCP client that sends bytes and reads whole HTTP/1.1
    responses (Content-Length, chunked, HEAD, interim 1xx, or until close),
    every read bounded by a deadline, and tells whether the server closed.
  * curl_fetch(): runs curl and returns (status, headers, body).
  * check()/require()/run(): failures are collected with a clear message, the
    script exits non-zero when there were any, and a watchdog bounds the run.

Only the Python 3 standard library is used; everything targets 127.0.0.1.
"""

import hashlib
import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
HOST = "127.0.0.1"

# ---- failures -----------------------------------------------------------------------


class Failure(Exception):
    """A failed requirement: the test cannot go on."""


FAILURES = []
_SERVERS = []
_lock = threading.Lock()


def log(msg):
    print(msg, flush=True)


def check(cond, msg):
    """Records a failure (and goes on) when cond is false. Returns cond."""
    if not cond:
        with _lock:
            FAILURES.append(msg)
        log("  FAIL: " + msg)
    return bool(cond)


def require(cond, msg):
    """Stops the test when cond is false."""
    if not cond:
        raise Failure(msg)


_ok_mark = [0]


def ok(msg):
    """Closes a section: 'ok' when it recorded no failure since the previous ok()."""
    with _lock:
        n = len(FAILURES)
        new = n - _ok_mark[0]
        _ok_mark[0] = n
    log(("  ok: " if not new else f"  done with {new} failure(s): ") + msg)


def run(main, budget_s=55.0):
    """Runs main() under a watchdog; prints a verdict and exits 0 or 1."""
    name = os.path.basename(sys.argv[0])
    t0 = time.monotonic()

    def watchdog():
        log(f"FAIL: {name}: still running after {budget_s:.0f} s (a hang?); killing statusd")
        _dump_stderr()
        _kill_all()
        sys.stdout.flush()
        os._exit(1)

    timer = threading.Timer(budget_s, watchdog)
    timer.daemon = True
    timer.start()
    try:
        main()
    except Failure as e:
        FAILURES.append(str(e))
        log("  FAIL: " + str(e))
    except Exception as e:  # a bug in the test or an unexpected server answer
        traceback.print_exc()
        FAILURES.append(f"unexpected {type(e).__name__}: {e}")
        log(f"  FAIL: unexpected {type(e).__name__}: {e}")
    finally:
        timer.cancel()
        if FAILURES:
            _dump_stderr()
        _kill_all()
    dt = time.monotonic() - t0
    if FAILURES:
        log(f"FAILED: {name}: {len(FAILURES)} failure(s) in {dt:.1f} s:")
        for f in FAILURES:
            log("  - " + f)
        sys.stdout.flush()
        os._exit(1)
    log(f"PASSED: {name} in {dt:.1f} s")
    sys.stdout.flush()
    os._exit(0)  # no waiting on stray daemon threads


def _dump_stderr():
    """On failure: how each statusd still known ended, and its last stderr lines."""
    for s in list(_SERVERS):
        code = s.proc.poll()
        state = "still running" if code is None else f"exited {code}"
        log(f"statusd pid {s.pid} ({state}); last stderr lines ({s.err_path}):")
        for line in s.stderr().splitlines()[-25:]:
            log("  | " + line)


def _kill_all():
    """Kills every statusd still known and removes its temporary directory."""
    for s in list(_SERVERS):
        s.kill()
        s._cleanup()


# ---- the server ---------------------------------------------------------------------


def build_dir():
    return os.environ.get("BUILD", "build/host")


def binary():
    b = build_dir()
    for cand in (os.path.join(b, "statusd"), os.path.join(ROOT, b, "statusd")):
        if os.path.isfile(cand) and os.access(cand, os.X_OK):
            return os.path.abspath(cand)
    raise Failure(f"no statusd binary in {b} (BUILD={b}); build it with `make BUILD={b} all`")


def runner():
    """The board's runner as argv (empty on the host)."""
    return os.environ.get("RUNNER", "").split()


def skip_unless_native(reason):
    """Exit 77 (skipped) on cross boards, naming why, as the last output line."""
    if runner():
        print(f"not for cross boards under {runner()[0]}: {reason}")
        sys.exit(77)


def sanitized():
    """True for an ASan/UBSan build (SANITIZE set, or the binary says so)."""
    if os.environ.get("SANITIZE"):
        return True
    try:
        with open(binary(), "rb") as f:
            data = f.read()
        return b"__asan_init" in data or b"__ubsan_handle" in data
    except OSError:
        return False


# stderr lines that mean trouble whatever the test did.
ALARMING = re.compile(
    r"^(ERROR|FATAL)\b|AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|"
    r"runtime error|Segmentation fault|terminate called|Assertion .* failed|stack smashing|"
    r"double free|corrupted",
    re.M,
)


class Statusd:
    """One statusd process in its own temporary directory."""

    def __init__(self, args=(), env=None, upload_dir=True, start_timeout=10.0):
        self.tmp = tempfile.mkdtemp(prefix="statusd-it-")
        self.upload_dir = os.path.join(self.tmp, "uploads") if upload_dir else None
        if self.upload_dir:
            os.mkdir(self.upload_dir)
        self.err_path = os.path.join(self.tmp, "stderr.txt")
        # Cross boards run the binary under their runner (qemu-user); qemu
        # forwards signals, so SIGTERM still reaches statusd.
        cmd = runner() + [binary(), "--http", f"{HOST}:0"]
        if self.upload_dir:
            cmd += ["--upload-dir", self.upload_dir]
        cmd += list(args)
        full_env = dict(os.environ)
        full_env.update(env or {})
        self._err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(cmd, cwd=self.tmp, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self._err, env=full_env)
        _SERVERS.append(self)
        self.pid = self.proc.pid
        self.port = self._wait_port(start_timeout)
        self.stopped = False

    def _wait_port(self, timeout):
        deadline = time.monotonic() + timeout
        line = b""
        fd = self.proc.stdout.fileno()
        while time.monotonic() < deadline:
            r, _, _ = select.select([fd], [], [], max(0.0, min(0.2, deadline - time.monotonic())))
            if r:
                chunk = os.read(fd, 256)
                if not chunk:
                    break
                line += chunk
                if b"\n" in line:
                    m = re.match(rb"statusd listening on port (\d+)(?:, https port (\d+))?\n", line)
                    if not m:
                        self.kill()
                        raise Failure(f"statusd printed {line!r}, not 'statusd listening on port N'")
                    self.tls_port = int(m.group(2)) if m.group(2) else None
                    return int(m.group(1))
            elif self.proc.poll() is not None:
                break
        code = self.proc.poll()
        self.kill()
        raise Failure(f"statusd gave no port line within {timeout:.0f} s (exit {code}, stdout {line!r}); "
                      f"stderr: {self.stderr()[-2000:]!r}")

    def url(self, path):
        return f"http://{HOST}:{self.port}{path}"

    def stderr(self):
        try:
            with open(self.err_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def rss_kib(self):
        """VmRSS of the process in KiB (or None once it is gone)."""
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None

    def alive(self):
        return self.proc.poll() is None

    def stop(self, timeout=6.0, allow=None):
        """SIGTERM, then waits; checks exit 0 and a quiet stderr. Returns seconds taken."""
        if self.stopped:
            return 0.0
        self.stopped = True
        require(self.alive(), f"statusd died before stop() (exit {self.proc.returncode}); "
                              f"stderr: {self.stderr()[-2000:]!r}")
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise Failure(f"statusd did not exit within {timeout:.0f} s of SIGTERM")
        dt = time.monotonic() - t0
        self._err.close()
        err = self.stderr()
        check(code == 0, f"statusd exited {code} after SIGTERM, expected 0; stderr tail: {err[-1500:]!r}")
        bad = [l for l in err.splitlines() if ALARMING.search(l) and not (allow and re.search(allow, l))]
        check(not bad, "alarming stderr lines from statusd: " + " | ".join(bad[:10]))
        self._cleanup()
        return dt

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        if not self._err.closed:
            self._err.close()

    def _cleanup(self):
        if self in _SERVERS:
            _SERVERS.remove(self)
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- convenience clients --

    def http(self, timeout=10.0):
        return http.client.HTTPConnection(HOST, self.port, timeout=timeout)

    def get(self, path, timeout=10.0, headers=None):
        """One request on a fresh http.client connection: (status, headers dict lowercased, body)."""
        c = self.http(timeout)
        try:
            c.request("GET", path, headers=headers or {})
            r = c.getresponse()
            body = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, body
        finally:
            c.close()

    def status_json(self):
        """Fresh figures: a query of its own is a new key for statusd's response cache."""
        self._status_probes = getattr(self, "_status_probes", 0) + 1
        st, _, body = self.get(f"/api/status?fresh={self._status_probes}")
        require(st == 200, f"GET /api/status answered {st}")
        return json.loads(body)

    def raw(self, timeout=5.0):
        return RawConn(self.port, timeout)


# ---- a raw HTTP/1.1 client ----------------------------------------------------------


class Resp:
    def __init__(self, version, status, reason, headers, body, head):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers  # [(name, value)] in order, names as sent
        self.body = body
        self.head = head  # the raw head bytes

    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def __repr__(self):
        return f"<Resp {self.status} {self.reason} {len(self.body)} body bytes>"


class ProtocolError(Exception):
    pass


class RawConn:
    """A raw socket to statusd. Every read is bounded by a deadline."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buf = bytearray()
        self.eof = False
        self.reset = False

    def send(self, data):
        self.sock.sendall(data)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _fill(self, deadline):
        """Reads more bytes; False at EOF/reset. Raises socket.timeout past the deadline."""
        if self.eof:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("deadline passed")
        self.sock.settimeout(remaining)
        try:
            d = self.sock.recv(262144)
        except ConnectionResetError:
            self.reset = True
            d = b""
        if not d:
            self.eof = True
            return False
        self.buf += d
        return True

    def read_until(self, marker, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while marker not in self.buf:
            if not self._fill(deadline):
                raise ProtocolError(f"connection closed before {marker!r}; got {bytes(self.buf[:300])!r}")
        i = self.buf.index(marker) + len(marker)
        out = bytes(self.buf[:i])
        del self.buf[:i]
        return out

    def read_exact(self, n, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise ProtocolError(f"connection closed after {len(self.buf)} of {n} body bytes")
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_head(self, timeout=None):
        raw = self.read_until(b"\r\n\r\n", timeout)
        lines = raw[:-4].split(b"\r\n")
        m = re.match(rb"(HTTP/\d\.\d) (\d{3}) ?(.*)$", lines[0])
        if not m:
            raise ProtocolError(f"bad status line {lines[0]!r}")
        headers = []
        for l in lines[1:]:
            if b":" not in l:
                raise ProtocolError(f"bad response header line {l!r}")
            k, v = l.split(b":", 1)
            headers.append((k.decode("latin-1"), v.strip().decode("latin-1")))
        return m.group(1).decode(), int(m.group(2)), m.group(3).decode("latin-1"), headers, raw

    def read_response(self, method="GET", timeout=None, skip_interim=True):
        """Reads one whole response. Interim 1xx responses are skipped unless skip_interim=False."""
        deadline_s = timeout or self.timeout
        while True:
            version, status, reason, headers, raw = self.read_head(deadline_s)
            r = Resp(version, status, reason, headers, b"", raw)
            if 100 <= status < 200:
                if skip_interim:
                    continue
                return r
            break
        if method == "HEAD" or status in (204, 304):
            return r
        te = (r.header("Transfer-Encoding") or "").lower()
        cl = r.header("Content-Length")
        if te:
            if te != "chunked":
                raise ProtocolError(f"response Transfer-Encoding {te!r}")
            body = bytearray()
            while True:
                line = self.read_until(b"\r\n", deadline_s)
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while self.read_until(b"\r\n", deadline_s) != b"\r\n":
                        pass  # trailers
                    break
                body += self.read_exact(size, deadline_s)
                if self.read_exact(2, deadline_s) != b"\r\n":
                    raise ProtocolError("chunk not followed by CRLF")
            r.body = bytes(body)
        elif cl is not None:
            r.body = self.read_exact(int(cl), deadline_s)
        else:  # until close
            deadline = time.monotonic() + deadline_s
            while self._fill(deadline):
                pass
            r.body = bytes(self.buf)
            self.buf.clear()
        return r

    def request(self, data, method="GET", timeout=None):
        self.send(data)
        return self.read_response(method, timeout)

    def closed_by_server(self, timeout=2.0):
        """True when the server closes (EOF or reset) within timeout with nothing more sent.
        Returns 'extra' if it sent further bytes instead."""
        deadline = time.monotonic() + timeout
        try:
            while not self.eof:
                if self.buf:
                    return "extra"
                if not self._fill(deadline):
                    break
        except (socket.timeout, TimeoutError):
            return False
        return "extra" if self.buf else True


def req(method, path, headers=None, body=b"", version="HTTP/1.1", host=True):
    """Builds raw request bytes; adds Host and (for a body) Content-Length unless given."""
    headers = list(headers or [])
    names = {k.lower() for k, _ in headers}
    if host and "host" not in names:
        headers.insert(0, ("Host", "127.0.0.1"))
    if body and "content-length" not in names and "transfer-encoding" not in names:
        headers.append(("Content-Length", str(len(body))))
    head = f"{method} {path} {version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    return head.encode("latin-1") + body


def chunked(body, sizes):
    """Encodes body in chunks of the given sizes (cycled), ending with the last chunk."""
    out = bytearray()
    i = 0
    k = 0
    while i < len(body):
        n = max(1, sizes[k % len(sizes)])
        k += 1
        part = body[i:i + n]
        out += b"%x\r\n" % len(part) + part + b"\r\n"
        i += n
    out += b"0\r\n\r\n"
    return bytes(out)


# ---- curl -----------------------------------------------------------------------------


def have_curl():
    return shutil.which("curl") is not None


def curl_fetch(url, *args, timeout=30.0, data_dir=None):
    """Runs curl; returns (status, headers dict lowercased of the final response, body bytes, stderr)."""
    require(have_curl(), "curl is not installed (apt-get install curl)")
    d = data_dir or tempfile.mkdtemp(prefix="curl-")
    hdr = os.path.join(d, "headers.txt")
    out = os.path.join(d, "body.bin")
    cmd = ["curl", "-sS", "--noproxy", "*", "--max-time", str(int(timeout)), "-D", hdr, "-o", out,
           "-w", "%{http_code}", *args, url]
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout + 10)
    except subprocess.TimeoutExpired:
        raise Failure(f"curl did not finish within {timeout + 10:.0f} s: {' '.join(cmd)}")
    try:
        with open(hdr, "rb") as f:
            head_text = f.read().decode("latin-1")
    except OSError:
        head_text = ""
    try:
        with open(out, "rb") as f:
            body = f.read()
    except OSError:
        body = b""
    if data_dir is None:
        shutil.rmtree(d, ignore_errors=True)
    # -D holds every response (interim 100 Continue included): keep the last block.
    blocks = [b for b in head_text.split("\r\n\r\n") if b.strip()]
    headers = {}
    if blocks:
        for line in blocks[-1].split("\r\n")[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
    try:
        status = int(p.stdout.decode().strip() or 0)
    except ValueError:
        status = 0
    if p.returncode != 0 and status == 0:
        raise Failure(f"curl failed (exit {p.returncode}): {p.stderr.decode(errors='replace').strip()} "
                      f"for {' '.join(cmd)}")
    return status, headers, body, p.stderr.decode(errors="replace")


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    return h.hexdigest()
