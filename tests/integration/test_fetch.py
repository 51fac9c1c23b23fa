#!/usr/bin/env python3
"""The fetch CLI (gust's HTTP client) against servers started here on 127.0.0.1.

A raw Python HTTP/1.1 server (one thread per connection, keep-alive, exact
bytes on the wire) serves every framing, 1xx, 204/304/HEAD, each redirect
code, a redirect loop, a 16 MiB body (checked by SHA-256), a stall, a
truncated body, a malformed status line and an oversized header; it counts
connections, so the pool's reuse (one TCP connection for 100 sequential
fetches) and caps (200 parallel fetches, never more than the per-origin cap
open) are measured on the server side. nginx (when installed) serves a static
file, HEAD, 304 and a redirect, and proves reuse with $connection_requests.
TLS: the same Python server behind certificates made with the openssl CLI
(trusted, expired, wrong name, untrusted) and --insecure."""
import hashlib
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import statusd_common as sc  # noqa: E402
from statusd_common import check, log, ok, require  # noqa: E402

HOST = "127.0.0.1"
BIG = 16 << 20


def big_body():
    # Deterministic, not compressible by accident, cheap to make.
    block = hashlib.sha256(b"gust").digest() * 2048  # 64 KiB
    return b"".join(bytes([i & 0xFF]) + block[1:] for i in range(BIG // len(block)))


BIG_BODY = big_body()
BIG_SHA = hashlib.sha256(BIG_BODY).hexdigest()


def response(status, body=b"", headers=(), reason=None):
    reason = reason or {200: "OK", 204: "No Content", 301: "Moved Permanently", 302: "Found", 303: "See Other",
                        304: "Not Modified", 307: "Temporary Redirect", 308: "Permanent Redirect"}.get(status, "X")
    head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    if not any(k.lower() in ("content-length", "transfer-encoding") for k, _ in headers) and status not in (204, 304):
        head += f"Content-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


class Origin:
    """A raw HTTP/1.1 server: routes map a path to fn(method, path, headers, body) -> list of actions:
    bytes (sent), a float (seconds to sleep) or None (close the connection)."""

    def __init__(self, routes, tls=None):
        self.routes = routes
        self.tls = tls
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((HOST, 0))
        self.sock.listen(512)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.accepted = 0
        self.open = 0
        self.max_open = 0
        self.epoch = 0
        self.requests = []
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path, scheme="http", host=HOST):
        return f"{scheme}://{host}:{self.port}{path}"

    def reset_counts(self):
        """From now on count only new connections (a stalled one from an earlier test may linger)."""
        with self.lock:
            self.epoch += 1
            self.accepted = 0
            self.open = 0
            self.max_open = 0

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with self.lock:
            epoch = self.epoch
            self.accepted += 1
            self.open += 1
            self.max_open = max(self.max_open, self.open)
        try:
            if self.tls:
                conn.settimeout(10)
                conn = self.tls.wrap_socket(conn, server_side=True)
            conn.settimeout(60)
            buf = b""
            while True:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ")
                headers = {}
                for line in lines[1:]:
                    k, _, v = line.partition(":")
                    headers[k.strip().lower()] = v.strip()
                n = int(headers.get("content-length", "0"))
                while len(buf) < n:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                body, buf = buf[:n], buf[n:]
                path = target.split("?")[0]
                with self.lock:
                    self.requests.append((method, target, headers, body))
                route = self.routes.get(path)
                actions = route(method, path, headers, body) if route else [response(404, b"no route\n")]
                for a in actions:
                    if a is None:
                        return
                    if isinstance(a, float):
                        time.sleep(a)
                    else:
                        conn.sendall(a)
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass
            with self.lock:
                if epoch == self.epoch:
                    self.open -= 1


def method_echo(method, path, headers, body):
    text = f"{method} {len(body)} {body.decode()} auth={headers.get('authorization', '')}"
    return [response(200, text.encode(), [("Content-Type", "text/plain")])]


def redirect(code):
    return lambda m, p, h, b: [response(code, b"" if m == "HEAD" else b"redirecting", [("Location", "../method")])]


ROUTES = {
    "/hello": lambda m, p, h, b: [b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n" + (b"" if m == "HEAD" else b"hello\n")],
    "/chunked": lambda m, p, h, b: [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                    b"4;ext=1\r\nwiki\r\n5\r\npedia\r\n0\r\nX-Trailer: 1\r\n\r\n"],
    "/close": lambda m, p, h, b: [b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nclosed body", None],
    "/interim": lambda m, p, h, b: [b"HTTP/1.1 100 Continue\r\n\r\n",
                                    b"HTTP/1.1 103 Early Hints\r\nLink: </x.css>\r\n\r\n",
                                    response(200, b"finally")],
    "/204": lambda m, p, h, b: [response(204)],
    "/304": lambda m, p, h, b: [b"HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n"],
    "/method": method_echo,
    "/loop": lambda m, p, h, b: [response(302, b"again", [("Location", "/loop")])],
    "/big": lambda m, p, h, b: [response(200, BIG_BODY)],
    "/stall": lambda m, p, h, b: [b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789", 30.0],
    "/truncated": lambda m, p, h, b: [b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789", None],
    "/malformed": lambda m, p, h, b: [b"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n"],
    "/bigheader": lambda m, p, h, b: [b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 65536 + b"\r\nContent-Length: 0\r\n\r\n"],
    "/slow": lambda m, p, h, b: [0.02, response(200, b"ok\n")],
}
for _code in (301, 302, 303, 307, 308):
    ROUTES[f"/r/{_code}"] = redirect(_code)


def fetch_bin():
    b = sc.build_dir()
    for cand in (os.path.join(b, "fetch"), os.path.join(sc.ROOT, b, "fetch")):
        if os.path.isfile(cand) and os.access(cand, os.X_OK):
            return os.path.abspath(cand)
    raise sc.Failure(f"no fetch binary in {b}; build it with `make BUILD={b} all`")


def fetch(*args, timeout=60):
    """Runs fetch; returns (exit code, stdout bytes, stderr text, seconds)."""
    cmd = sc.runner() + [fetch_bin(), *args]
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise sc.Failure(f"fetch did not finish within {timeout} s: {' '.join(cmd)}")
    return p.returncode, p.stdout, p.stderr.decode(errors="replace"), time.monotonic() - t0


def expect_ok(args, want, what):
    rc, out, err, _ = fetch(*args)
    check(rc == 0, f"{what}: exit {rc}, stderr {err.strip()!r}")
    check(out == want, f"{what}: stdout {out[:200]!r}, want {want[:200]!r}")


def expect_fail(args, fragment, what, timeout=60):
    rc, out, err, dt = fetch(*args, timeout=timeout)
    lines = [l for l in err.splitlines() if l.strip()]
    check(rc != 0, f"{what}: exit 0, want a failure")
    check(len(lines) == 1, f"{what}: want one stderr line, got {lines!r}")
    check(fragment in err, f"{what}: stderr {err.strip()!r} lacks {fragment!r}")
    return dt


def test_framings(o):
    expect_ok([o.url("/hello")], b"hello\n", "Content-Length")
    rc, out, err, _ = fetch("-i", o.url("/hello"))
    check(rc == 0 and out.startswith(b"HTTP/1.1 200 OK\r\n") and out.endswith(b"\r\n\r\nhello\n")
          and b"\r\nContent-Length: 6\r\n" in out, f"-i: exit {rc}, {out!r}")
    expect_ok([o.url("/chunked")], b"wikipedia", "chunked with an extension and a trailer")
    expect_ok([o.url("/close")], b"closed body", "close-delimited")
    expect_ok([o.url("/interim")], b"finally", "100 and 103 before the final response")
    expect_ok([o.url("/204")], b"", "204")
    rc, out, _, _ = fetch("-i", o.url("/304"))
    check(rc == 0 and out.startswith(b"HTTP/1.1 304 ") and out.endswith(b"\r\n\r\n"), f"304: {rc} {out!r}")
    rc, out, _, _ = fetch("-i", "-X", "HEAD", o.url("/hello"))
    check(rc == 0 and b"Content-Length: 6" in out and out.endswith(b"\r\n\r\n"), f"HEAD: {rc} {out!r}")
    ok("Content-Length, chunked, close, 1xx, 204, 304, HEAD")


def test_redirects(o):
    # Same origin: the credentials go along.
    for code, want in ((301, b"GET 0  auth=t"), (302, b"GET 0  auth=t"), (303, b"GET 0  auth=t"),
                       (307, b"POST 4 data auth=t"), (308, b"POST 4 data auth=t")):
        expect_ok(["-d", "data", "-H", "Authorization: t", o.url(f"/r/{code}")], want, f"POST then {code}")
    expect_ok(["-X", "PUT", "-d", "x", o.url("/r/301")], b"PUT 1 x auth=", "PUT keeps its method on 301")
    expect_fail([o.url("/loop")], "too many redirects", "a redirect loop")
    n = len(o.requests)
    expect_fail(["--max-redirects", "3", o.url("/loop")], "too many redirects", "a loop with --max-redirects 3")
    check(len(o.requests) - n == 4, f"--max-redirects 3 made {len(o.requests) - n} requests, want 4")
    rc, out, _, _ = fetch("-i", "--max-redirects", "0", o.url("/loop"))
    check(rc == 0 and out.startswith(b"HTTP/1.1 302 ") and b"Location: /loop" in out, f"unfollowed: {out!r}")
    ok("redirects: 301/302/303 turn POST into GET, 307/308 keep it; loops stop at the limit")


def test_big(o):
    rc, out, err, dt = fetch(o.url("/big"), timeout=120)
    check(rc == 0, f"16 MiB: exit {rc}, {err.strip()!r}")
    got = hashlib.sha256(out).hexdigest()
    check(len(out) == BIG and got == BIG_SHA, f"16 MiB: {len(out)} bytes, sha256 {got}, want {BIG_SHA}")
    log(f"  16 MiB streamed in {dt:.2f} s ({BIG / dt / 1e6:.0f} MB/s through a pipe)")
    ok("a 16 MiB body arrives intact (SHA-256)")


def test_failures(o):
    dt = expect_fail(["--timeout-ms", "500", o.url("/stall")], "timed out", "a stalled server")
    check(dt < 10, f"the stall took {dt:.1f} s to time out (limit 0.5 s)")
    expect_fail([o.url("/truncated")], "closed before the response body was complete", "a truncated body")
    expect_fail([o.url("/malformed")], "malformed status line", "a malformed status line")
    expect_fail([o.url("/bigheader")], "too large", "a 64 KiB header")
    s = socket.socket()
    s.bind((HOST, 0))
    dead = s.getsockname()[1]
    s.close()
    expect_fail([f"http://{HOST}:{dead}/"], "connection refused", "nobody listening")
    expect_fail(["--timeout-ms", "4000", "http://no-such-host.invalid./"], "", "an unknown host", timeout=30)
    expect_fail(["ftp://example.com/"], "only http and https", "another scheme")
    rc, _, err, _ = fetch("--bogus", o.url("/hello"))
    check(rc == 2, f"an unknown option: exit {rc}, want 2")
    ok("stall, truncation, malformed head, oversized header, refused, unknown host: errors with one line")


def test_pool(o):
    o.reset_counts()
    rc, out, err, dt = fetch(*[o.url("/hello")] * 100)
    check(rc == 0 and out == b"hello\n" * 100, f"100 sequential: exit {rc}, {len(out)} bytes, {err.strip()!r}")
    check(o.accepted == 1, f"100 sequential fetches used {o.accepted} TCP connections, want 1")
    log(f"  100 sequential fetches over {o.accepted} connection in {dt:.2f} s")
    o.reset_counts()
    rc, out, err, dt = fetch("--parallel", "--max-conns", "6", "--max-per-origin", "4", *[o.url("/slow")] * 200)
    check(rc == 0 and out == b"ok\n" * 200, f"200 parallel: exit {rc}, {len(out)} bytes, {err.strip()[:300]!r}")
    check(o.max_open <= 4, f"200 parallel fetches had {o.max_open} connections open at once, cap 4")
    check(o.max_open >= 2, f"200 parallel fetches had only {o.max_open} connection open at once: not parallel?")
    check(o.accepted <= 8, f"200 parallel fetches opened {o.accepted} connections (pool of 4 expected to be reused)")
    log(f"  200 parallel fetches in {dt:.2f} s, {o.accepted} connections, at most {o.max_open} open")
    ok("pool: one connection for 100 sequential fetches; 200 parallel within the per-origin cap")


# ---- nginx ------------------------------------------------------------------------------


def free_port():
    s = socket.socket()
    s.bind((HOST, 0))
    p = s.getsockname()[1]
    s.close()
    return p


def test_nginx(tmp):
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if not nginx:
        log("  nginx not installed (apt-get install nginx-light): its part is skipped")
        return
    root = os.path.join(tmp, "www")
    os.makedirs(root)
    data = os.urandom(1 << 20)
    with open(os.path.join(root, "file.bin"), "wb") as f:
        f.write(data)
    port = free_port()
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""daemon off; master_process off; worker_processes 1;
pid {tmp}/nginx.pid; error_log {tmp}/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off; client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
  keepalive_requests 1000;
  server {{
    listen {HOST}:{port};
    root {root};
    location = /conn {{ default_type text/plain; return 200 "$connection $connection_requests\\n"; }}
    location = /moved {{ return 301 /conn; }}
  }}
}}
""")
    proc = subprocess.Popen([nginx, "-e", os.path.join(tmp, "error.log"), "-c", conf, "-p", tmp], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection((HOST, port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
                require(proc.poll() is None, f"nginx exited: {proc.stderr.read().decode(errors='replace')}")
        base = f"http://{HOST}:{port}"
        rc, out, err, _ = fetch(base + "/file.bin")
        check(rc == 0 and hashlib.sha256(out).digest() == hashlib.sha256(data).digest(),
              f"nginx static file: exit {rc}, {len(out)} bytes, {err.strip()!r}")
        rc, out, _, _ = fetch("-i", "-X", "HEAD", base + "/file.bin")
        check(rc == 0 and b"Content-Length: 1048576" in out and out.endswith(b"\r\n\r\n"), f"nginx HEAD: {out!r}")
        lm = [l for l in out.split(b"\r\n") if l.lower().startswith(b"last-modified:")]
        require(lm, f"nginx sent no Last-Modified: {out!r}")
        rc, out, _, _ = fetch("-i", "-H", "If-Modified-Since:" + lm[0].split(b":", 1)[1].decode(), base + "/file.bin")
        check(rc == 0 and out.startswith(b"HTTP/1.1 304 "), f"nginx 304: {out[:100]!r}")
        rc, out, err, _ = fetch(*[base + "/conn"] * 50, base + "/moved")
        lines = out.decode().split("\n")[:-1]
        conns = {l.split()[0] for l in lines}
        counts = [int(l.split()[1]) for l in lines]
        check(rc == 0 and len(lines) == 51, f"nginx keep-alive: exit {rc}, {len(lines)} lines, {err.strip()!r}")
        check(len(conns) == 1 and counts == list(range(1, 51)) + [52],
              f"nginx saw connections {conns} and request counts {counts[:5]}...{counts[-3:]}")
        ok("nginx: static file, HEAD, 304, one connection for 50 fetches and a redirect")
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()


# ---- TLS ---------------------------------------------------------------------------------


def openssl(*args, cwd):
    p = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, timeout=60)
    require(p.returncode == 0, f"openssl {' '.join(args)} failed: {p.stderr.decode(errors='replace')}")


def make_certs(d):
    """ca.pem, good.pem (localhost), expired.pem, wrong.pem (other.test), all keys EC P-256."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=gust test CA", "-days", "2",
            cwd=d)
    with open(os.path.join(d, "index.txt"), "w"):
        pass
    with open(os.path.join(d, "serial"), "w") as f:
        f.write("01\n")
    with open(os.path.join(d, "ca.cnf"), "w") as f:
        f.write("[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\n"
                "default_md = sha256\npolicy = p\ncopy_extensions = copy\nunique_subject = no\n"
                "[p]\ncommonName = supplied\n")
    for name, host, dates in (("good", "localhost", ("-days", "2")), ("wrong", "other.test", ("-days", "2")),
                              ("expired", "localhost", ("-startdate", "20200101000000Z",
                                                        "-enddate", "20200102000000Z"))):
        openssl("req", "-new", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={host}",
                "-addext", f"subjectAltName=DNS:{host}", cwd=d)
        openssl("ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key", "-in", f"{name}.csr",
                "-out", f"{name}.pem", "-notext", *dates, cwd=d)


def tls_origin(d, name):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(d, f"{name}.pem"), os.path.join(d, f"{name}.key"))
    return Origin(ROUTES, tls=ctx)


def test_tls(tmp):
    if not shutil.which("openssl"):
        log("  openssl not installed: the TLS part is skipped")
        return
    d = os.path.join(tmp, "certs")
    os.makedirs(d)
    make_certs(d)
    ca = os.path.join(d, "ca.pem")
    good = tls_origin(d, "good")
    url = good.url("/hello", "https", "localhost")
    expect_ok(["--cacert", ca, url], b"hello\n", "https with a trusted certificate")
    rc, out, err, dt = fetch("--cacert", ca, good.url("/big", "https", "localhost"), timeout=120)
    check(rc == 0 and hashlib.sha256(out).hexdigest() == BIG_SHA, f"16 MiB over https: exit {rc}, {err.strip()!r}")
    log(f"  16 MiB over https in {dt:.2f} s")
    good.reset_counts()
    rc, out, err, _ = fetch("--cacert", ca, *[url] * 20)
    check(rc == 0 and out == b"hello\n" * 20 and good.accepted == 1,
          f"20 https fetches: exit {rc}, {good.accepted} connections, {err.strip()!r}")
    expect_fail(["--cacert", os.path.join(d, "good.pem"), url], "certificate not trusted", "a leaf that is no CA")
    expect_fail(["--cacert", ca, tls_origin(d, "expired").url("/hello", "https", "localhost")],
                "certificate expired", "an expired certificate")
    expect_fail(["--cacert", ca, tls_origin(d, "wrong").url("/hello", "https", "localhost")],
                "hostname mismatch", "a certificate for another name")
    expect_fail([url], "certificate not trusted", "our CA is not in the system store")
    expect_ok(["--insecure", url], b"hello\n", "--insecure")
    expect_fail(["--cacert", os.path.join(d, "missing.pem"), url], "", "a CA file that does not exist")
    ok("https: trusted accepted (keep-alive, 16 MiB); expired, wrong name, untrusted refused; --insecure accepted")


def main():
    tmp = tempfile.mkdtemp(prefix="fetch-it-")
    try:
        o = Origin(ROUTES)
        log(f"fetch {fetch_bin()} against a Python origin on port {o.port}")
        test_framings(o)
        test_redirects(o)
        test_big(o)
        test_failures(o)
        test_pool(o)
        test_nginx(tmp)
        test_tls(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sc.run(main, budget_s=400.0)
