#!/usr/bin/env python3
"""statusd --auth-token-file / --auth-basic-file / --bind against curl and Python.

- --http PORT listens on --bind's address, 127.0.0.1 by default (read back
  from /proc/net/tcp); --bind 0.0.0.0 without auth logs a warning.
- /hello stays open; every other route answers 401 with WWW-Authenticate
  (Bearer and Basic realm="statusd"), the same bytes for a missing token, a
  wrong one and a wrong password; the right token (curl -H) or password
  (curl -u, from a credentials file written with Python's hashlib and one
  from statusd --hash-password) gets 200.
- Failures slow down: a client on 127.0.0.2 gets its 4th..8th wrong answers
  after about 0.1, 0.2, 0.4, 0.8 and 1.6 s, while 127.0.0.1 is served at once
  meanwhile; with two delayed answers pending, a third gets 429 at once.
- An unauthenticated upload is refused without its body being read or stored.
- Authorized /api/status is served from the response cache.
- Steady-state authorized requests (Bearer, and a remembered Basic password)
  make no heap allocation (LD_PRELOAD counter, host only).
- A token file with a short token stops statusd with FILE:LINE.
"""
import base64
import hashlib
import json
import os
import shutil
import socket
import subprocess
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

TOKEN = "tok-3f9c2a7e51d84b06a1c4"
PASSWORD = "correct horse battery"
ATTACKER = "127.0.0.2"  # all of 127/8 reaches the loopback listener


def pbkdf2_line(user, password, iterations=20000):
    salt = os.urandom(16)
    dk = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"{user}:pbkdf2-sha256:{iterations}:{salt.hex()}:{dk.hex()}"


class From(sc.RawConn):
    """A raw connection from a chosen loopback source address."""

    def __init__(self, port, source, timeout=10.0):
        self.sock = socket.create_connection((sc.HOST, port), timeout=timeout, source_address=(source, 0))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buf = bytearray()
        self.eof = False
        self.reset = False


def timed_get(port, path, source="127.0.0.1", authorization=None, timeout=15.0):
    """One GET on a fresh connection: (response, seconds)."""
    c = From(port, source, timeout)
    try:
        headers = [("Authorization", authorization)] if authorization else []
        t0 = time.monotonic()
        r = c.request(sc.req("GET", path, headers))
        return r, time.monotonic() - t0
    finally:
        c.close()


def listen_addresses(port):
    """Local IPv4 addresses of LISTEN sockets on `port`, from /proc/net/tcp."""
    out = []
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            ip_hex, port_hex = fields[1].split(":")
            if int(port_hex, 16) == port and fields[3] == "0A":
                out.append(socket.inet_ntoa(bytes.fromhex(ip_hex)[::-1]))
    return out


def challenges(headers_text):
    return [l.split(":", 1)[1].strip() for l in headers_text.split("\r\n") if l.lower().startswith("www-authenticate:")]


def curl_head_text(s, path, *args):
    """curl -i: the head text and the status of the final response."""
    p = subprocess.run(["curl", "-sS", "--noproxy", "*", "--max-time", "15", "-i", *args, s.url(path)],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    text = p.stdout.decode("latin-1")
    head, _, body = text.partition("\r\n\r\n")
    status = int(head.split(" ", 2)[1]) if head.startswith("HTTP/") else 0
    return status, head, body


def test_bind(tmp):
    s = sc.Statusd(args=["--http", "0"])
    check(listen_addresses(s.port) == ["127.0.0.1"], f"--http 0 listens on {listen_addresses(s.port)}, "
                                                        "expected only 127.0.0.1 (the --bind default)")
    # A request first: statusd catches SIGTERM only once its loop runs, just after the port line.
    check(s.get("/hello")[0] == 200, "/hello on the default bind address")
    s.stop()
    s = sc.Statusd(args=["--bind", "0.0.0.0", "--http", "0"])
    check(listen_addresses(s.port) == ["0.0.0.0"], f"--bind 0.0.0.0 --http 0 listens on {listen_addresses(s.port)}")
    st, _, _ = s.get("/api/status")
    check(st == 200, f"without auth /api/status answers {st}")
    s.stop(allow=r"without --auth-token-file")
    ok("--http PORT listens on --bind (127.0.0.1 by default)")


def test_bind_warning():
    s = sc.Statusd(args=["--bind", "0.0.0.0", "--http", "0", "--log-level", "info"])
    time.sleep(0.1)
    err = s.stderr()
    check("without --auth-token-file" in err, f"no warning about an open wildcard listener; stderr: {err[-500:]!r}")
    s.stop(allow=r"without --auth-token-file")
    ok("a wildcard listener without auth is logged as a warning")


def test_bad_files(tmp):
    bad = os.path.join(tmp, "bad-tokens")
    with open(bad, "w") as f:
        f.write("# tokens\n" + TOKEN + "\nshort\n")
    p = subprocess.run(sc.runner() + [sc.binary(), "--http", "127.0.0.1:0", "--auth-token-file", bad],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
    err = p.stderr.decode(errors="replace")
    check(p.returncode == 2, f"a bad token file: exit {p.returncode}, expected 2")
    check(f"{bad}:3:" in err, f"the error names FILE:LINE: {err!r}")
    p = subprocess.run(sc.runner() + [sc.binary(), "--http", "127.0.0.1:0", "--auth-token-file",
                                      os.path.join(tmp, "missing")],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
    check(p.returncode == 2, f"a missing token file: exit {p.returncode}, expected 2")
    ok("a bad or missing token file stops statusd with exit 2 and FILE:LINE")


def hash_password_line(user, password):
    p = subprocess.run(sc.runner() + [sc.binary(), "--hash-password", user, "--hash-iterations", "20000"],
                       input=(password + "\n").encode(), capture_output=True, timeout=30)
    require(p.returncode == 0, f"statusd --hash-password failed: {p.stderr!r}")
    line = p.stdout.decode().strip()
    f = line.split(":")
    require(len(f) == 5 and f[1] == "pbkdf2-sha256", f"--hash-password printed {line!r}")
    # Python's PBKDF2 agrees with mbedTLS's on statusd's own line.
    dk = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(f[3]), int(f[2]), len(bytes.fromhex(f[4])))
    check(dk.hex() == f[4], "statusd --hash-password's hash differs from hashlib.pbkdf2_hmac's")
    return line


def test_protected(s):
    st, _, body = s.get("/hello")
    check(st == 200 and body == b"Hello, world!", f"/hello without credentials: {st} {body!r}")

    st, head, body_none = curl_head_text(s, "/api/status")
    check(st == 401, f"/api/status without credentials: {st}")
    got = challenges(head)
    check('Bearer realm="statusd"' in got and 'Basic realm="statusd", charset="UTF-8"' in got,
          f"WWW-Authenticate: {got}")
    check(b"hostname" not in body_none.encode(), "a 401 leaks status data")

    st, _, body, _ = sc.curl_fetch(s.url("/api/status"), "-H", f"Authorization: Bearer {TOKEN}")
    check(st == 200 and "hostname" in json.loads(body), f"with the token: {st}")
    st, _, body_wrong, _ = sc.curl_fetch(s.url("/api/status"), "-H", "Authorization: Bearer not-the-token-123456")
    check(st == 401, f"a wrong token: {st}")
    check(body_wrong.decode() == body_none, "a wrong token's 401 differs from a missing one's")

    st, _, body, _ = sc.curl_fetch(s.url("/metrics"), "-u", f"admin:{PASSWORD}")
    check(st == 200 and b"gust_" in body, f"Basic with the Python-made line: {st}")
    st, _, body, _ = sc.curl_fetch(s.url("/metrics"), "-u", "ops:from-statusd-tool")
    check(st == 200, f"Basic with the --hash-password line: {st}")
    st, _, body_pw, _ = sc.curl_fetch(s.url("/metrics"), "-u", "admin:wrong password")
    check(st == 401, f"a wrong password: {st}")
    check(body_pw.decode() == body_none, "a wrong password's 401 differs from a missing one's")
    st, _, _, _ = sc.curl_fetch(s.url("/metrics"), "-u", f"admin:{PASSWORD}")  # clears 127.0.0.1's count
    check(st == 200, f"the right password again: {st}")
    ok("/hello open; 401 with both challenges; the token (curl -H) and passwords (curl -u) admit")


def test_upload_refused(s):
    c = s.raw(timeout=10)
    body = b"x" * 100000
    c.send(sc.req("PUT", "/api/upload/fw.bin", [("Content-Type", "application/octet-stream")], body))
    r = c.read_response()
    check(r.status == 401, f"an unauthenticated upload: {r.status}")
    check((r.header("Connection") or "").lower() == "close", "an unauthenticated body must not keep the connection")
    check(c.closed_by_server(3) is True, "the server did not close after refusing the upload")
    c.close()
    check(not os.path.exists(os.path.join(s.upload_dir, "fw.bin")), "the refused upload was stored")
    ok("an unauthenticated upload gets 401 and Connection: close, nothing stored")


def test_cache(s):
    auth = f"Bearer {TOKEN}"
    reads = []
    for _ in range(3):
        r, _ = timed_get(s.port, "/api/status", authorization=auth)
        require(r.status == 200, f"/api/status with the token: {r.status}")
        reads.append(json.loads(r.body)["status_reads_total"])
    check(reads[0] == reads[1] == reads[2], f"authorized /api/status read the system each time: {reads}")
    ok(f"authorized /api/status comes from the response cache (status_reads_total {reads})")


def test_delay(s):
    wrong = "Bearer wrong-token-000000000000"
    expect = [0, 0, 0, 0.1, 0.2, 0.4, 0.8]
    took = []
    for i, want in enumerate(expect):
        r, dt = timed_get(s.port, "/api/status", ATTACKER, wrong)
        require(r.status == 401, f"wrong token {i + 1}: {r.status}")
        took.append(dt)
        check(dt >= want - 0.01, f"failure {i + 1} answered after {dt:.3f} s, expected at least {want} s")
        check(dt < want + 0.5, f"failure {i + 1} answered after {dt:.3f} s, expected about {want} s")
    log("  answers to failures 1..7 from %s after: %s s" % (ATTACKER, ", ".join(f"{t:.3f}" for t in took)))

    # The 8th waits 1.6 s; meanwhile everybody else is served at once.
    result = {}

    def slow():
        result["r"], result["dt"] = timed_get(s.port, "/api/status", ATTACKER, wrong)

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.2)
    r, dt_good = timed_get(s.port, "/api/status", "127.0.0.1", f"Bearer {TOKEN}")
    check(r.status == 200, f"127.0.0.1 with the token during the delay: {r.status}")
    r2, dt_hello = timed_get(s.port, "/hello", ATTACKER)
    check(r2.status == 200, f"/hello from {ATTACKER} during its delay: {r2.status}")
    check("r" not in result, "the delayed answer came before the other clients were served")
    t.join(10)
    check(result.get("r") is not None and result["r"].status == 401, "the 8th failure got no 401")
    check(result.get("dt", 0) >= 1.59, f"failure 8 answered after {result.get('dt', 0):.3f} s, expected 1.6 s")
    check(dt_good < 0.3 and dt_hello < 0.3,
          f"other requests waited during the delay: {dt_good:.3f} s and {dt_hello:.3f} s")
    log(f"  failure 8 after {result.get('dt', 0):.3f} s; meanwhile 127.0.0.1 got 200 in {dt_good * 1000:.1f} ms, "
        f"{ATTACKER}/hello in {dt_hello * 1000:.1f} ms")
    ok("failures slow down exponentially per client while others are served at once")

    # Two delayed answers pending (3.2 s, 5 s): a third attempt is turned away at once.
    pending = []

    def waiter():
        pending.append(timed_get(s.port, "/api/status", ATTACKER, wrong))

    threads = [threading.Thread(target=waiter) for _ in range(2)]
    for th in threads:
        th.start()
        time.sleep(0.15)
    r, dt = timed_get(s.port, "/api/status", ATTACKER, f"Bearer {TOKEN}")
    check(r.status == 429, f"a third attempt with two answers pending: {r.status}, expected 429")
    check(dt < 0.3, f"the 429 took {dt:.3f} s")
    check(r.header("Retry-After") == "5", f"Retry-After {r.header('Retry-After')!r}, expected '5'")
    check((r.header("Connection") or "").lower() == "close", "429 without Connection: close")
    for th in threads:
        th.join(10)
    check(sorted(p[0].status for p in pending) == [401, 401], f"the pending answers: {[p[0].status for p in pending]}")
    check(max(p[1] for p in pending) >= 4.9, f"the 10th failure came after {max(p[1] for p in pending):.2f} s, not 5 s")
    ok("a client with two delayed answers pending gets 429 at once")


def test_allocations(tmp, users):
    if sc.runner():
        log("  (allocation count skipped: the LD_PRELOAD counter is a host library)")
        return
    import test_http_allocations as ta
    so = ta.build_preload(tmp)
    count_file = os.path.join(tmp, "count.txt")
    env = {"LD_PRELOAD": so, "MALLOC_COUNT_FILE": count_file}
    if sc.sanitized():
        env["ASAN_OPTIONS"] = (os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0").lstrip(":")
    tokens = os.path.join(tmp, "tokens")
    s = sc.Statusd(args=["--auth-token-file", tokens, "--auth-basic-file", users], env=env)
    basic = "Basic " + base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
    c = s.raw(timeout=10)

    def run(n, authorization):
        for i in range(n):
            r = c.request(sc.req("POST", "/echo", [("Authorization", authorization)], b"0123456789"))
            if r.status != 200 or r.body != b"0123456789":
                raise sc.Failure(f"authorized POST /echo {i}: {r.status}")

    run(100, f"Bearer {TOKEN}")
    run(100, basic)  # the first runs PBKDF2 (mbedTLS allocates there); the rest are remembered
    before = ta.read_count(s, count_file)
    run(2000, f"Bearer {TOKEN}")
    run(2000, basic)
    after = ta.read_count(s, count_file)
    c.close()
    diff = after[0] - before[0]
    log(f"RESULT: {diff} heap allocations over 4000 authorized keep-alive requests (2000 Bearer, 2000 Basic)")
    check(diff == 0, f"{diff} heap allocations during 4000 authorized requests; the rule is zero")
    s.stop()
    ok("authorized requests in steady state allocate nothing")


def main():
    require(sc.have_curl(), "curl is not installed (apt-get install curl)")
    tmp = tempfile.mkdtemp(prefix="auth-it-")
    try:
        tokens = os.path.join(tmp, "tokens")
        with open(tokens, "w") as f:
            f.write(f"# statusd API tokens\n\n  {TOKEN}\n# retired: old-token-aaaaaaaaaaaaaaaa\n")
        users = os.path.join(tmp, "users")
        with open(users, "w") as f:
            f.write("# made with hashlib.pbkdf2_hmac\n" + pbkdf2_line("admin", PASSWORD) + "\n" +
                    hash_password_line("ops", "from-statusd-tool") + "\n")

        test_bind(tmp)
        test_bind_warning()
        test_bad_files(tmp)

        s = sc.Statusd(args=["--http", "0", "--auth-token-file", tokens, "--auth-basic-file", users,
                             "--status-cache-ms", "10000", "--log-level", "info"])
        log(f"statusd pid {s.pid} port {s.port}, tokens and Basic users")
        test_protected(s)
        test_upload_refused(s)
        test_cache(s)
        test_delay(s)
        check("every route but /hello needs a Bearer token or a Basic password" in s.stderr(),
              "statusd did not log what it protects")
        s.stop()

        test_allocations(tmp, users)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sc.run(main)
