#!/usr/bin/env python3
"""Soak: statusd under a bounded, mixed, partly hostile load for SOAK_SECONDS
(default 60), all on 127.0.0.1.

Well-formed clients, each checking every answer byte for byte:
  keepalive   GET /hello on persistent connections
  churn       a connection per request (Connection: close)
  pipelined   10 requests in one write, 10 answers in order
  echo        POST /echo, random sizes (0..96 KiB), Content-Length or random chunking
  tls         a TLS handshake and GET /hello per connection (fresh sessions)
  websocket   /ws/echo upgrade, a text and a binary message echoed, close (when statusd has it)
Hostile ones, which only have to leave the server standing:
  slowloris   a head trickled one byte a second, never finished
  reset       RST mid-request and mid-response (SO_LINGER 0)
  malformed   random bytes, oversized heads, bad framing

At the end it asserts: statusd still answers; every well-formed request got a
correct answer; statusd's open fds are back at their starting count; RSS after
warm-up stayed within a fixed bound. It prints the figures either way.
"""
import base64
import hashlib
import http.client
import os
import random
import socket
import ssl
import struct
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration", "lib"))
import statusd_common as sc  # noqa: E402
from statusd_common import check, log, ok, require  # noqa: E402

SECONDS = float(os.environ.get("SOAK_SECONDS", "60"))
WARMUP = min(10.0, SECONDS / 4)
RSS_GROWTH_LIMIT_KIB = 4096  # after warm-up; every pool is sized at start, so growth means a leak
HELLO = b"Hello, world!"


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.ok = {}
        self.bad = {}
        self.examples = []

    def good(self, kind, n=1):
        with self.lock:
            self.ok[kind] = self.ok.get(kind, 0) + n

    def fail(self, kind, what):
        with self.lock:
            self.bad[kind] = self.bad.get(kind, 0) + 1
            if len(self.examples) < 12:
                self.examples.append(f"{kind}: {what}")


T = Tally()
STOP = threading.Event()


def rng(seed):
    return random.Random(seed)


def recv_response(raw, method="GET"):
    r = raw.read_response(method=method, timeout=15)
    return r


# ---- well-formed clients ------------------------------------------------------------


def keepalive(s, seed):
    c = http.client.HTTPConnection(sc.HOST, s.port, timeout=15)
    n = 0
    while not STOP.is_set():
        try:
            c.request("GET", "/hello")
            r = c.getresponse()
            body = r.read()
            if r.status == 200 and body == HELLO:
                T.good("keepalive")
            else:
                T.fail("keepalive", f"{r.status} {body[:40]!r}")
            n += 1
            if n % 200 == 0:  # now and then a new connection
                c.close()
                c = http.client.HTTPConnection(sc.HOST, s.port, timeout=15)
        except Exception as e:  # noqa: BLE001
            T.fail("keepalive", repr(e))
            c.close()
            c = http.client.HTTPConnection(sc.HOST, s.port, timeout=15)
    c.close()


def churn(s, seed):
    while not STOP.is_set():
        try:
            raw = sc.RawConn(s.port, timeout=15)
            raw.send(sc.req("GET", "/hello", [("Connection", "close")]))
            r = raw.read_response()
            if r.status == 200 and r.body == HELLO and raw.closed_by_server(5) is True:
                T.good("churn")
            else:
                T.fail("churn", f"{r.status} {r.body[:40]!r}")
            raw.close()
        except Exception as e:  # noqa: BLE001
            T.fail("churn", repr(e))


def pipelined(s, seed):
    while not STOP.is_set():
        try:
            raw = sc.RawConn(s.port, timeout=15)
            for _ in range(20):
                if STOP.is_set():
                    break
                raw.send(sc.req("GET", "/hello") * 10)
                good = 0
                for _ in range(10):
                    r = raw.read_response()
                    good += r.status == 200 and r.body == HELLO
                if good == 10:
                    T.good("pipelined", 10)
                else:
                    T.fail("pipelined", f"{good} of 10 answers right")
            raw.close()
        except Exception as e:  # noqa: BLE001
            T.fail("pipelined", repr(e))


def echo(s, seed):
    r = rng(seed)
    while not STOP.is_set():
        try:
            raw = sc.RawConn(s.port, timeout=15)
            for _ in range(10):
                if STOP.is_set():
                    break
                size = r.choice([0, 1, 100, 4096, 8191, 8193, 65536, r.randrange(0, 98304)])
                body = bytes(r.getrandbits(8) for _ in range(min(size, 2048))) * (size // 2048 + 1)
                body = body[:size]
                if r.random() < 0.5:
                    sizes = [r.randrange(1, 9000) for _ in range(64)]
                    raw.send(sc.req("POST", "/echo", [("Transfer-Encoding", "chunked"),
                                                      ("Content-Type", "application/octet-stream")],
                                    sc.chunked(body, sizes)))
                else:
                    raw.send(sc.req("POST", "/echo", [("Content-Type", "application/octet-stream")], body))
                resp = raw.read_response(method="POST")
                if resp.status == 200 and resp.body == body:
                    T.good("echo")
                else:
                    T.fail("echo", f"{resp.status}, {len(resp.body)} of {size} bytes back")
            raw.close()
        except Exception as e:  # noqa: BLE001
            T.fail("echo", repr(e))


def tls(s, seed, ca):
    ctx = ssl.create_default_context(cafile=ca)
    while not STOP.is_set():
        try:
            c = http.client.HTTPSConnection(sc.HOST, s.tls_port, context=ctx, timeout=20)
            c.request("GET", "/hello")
            r = c.getresponse()
            body = r.read()
            c.close()
            if r.status == 200 and body == HELLO:
                T.good("tls")
            else:
                T.fail("tls", f"{r.status} {body[:40]!r}")
        except Exception as e:  # noqa: BLE001
            T.fail("tls", repr(e))


def ws_frame(opcode, payload, rnd):
    mask = bytes(rnd.getrandbits(8) for _ in range(4))
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def ws_read_frame(raw):
    h = raw.read_exact(2)
    n = h[1] & 0x7F
    if n == 126:
        n = struct.unpack("!H", raw.read_exact(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", raw.read_exact(8))[0]
    return h[0] & 0x0F, raw.read_exact(n) if n else b""


def has_websocket(s):
    try:
        raw = sc.RawConn(s.port, timeout=5)
        key = base64.b64encode(os.urandom(16)).decode()
        raw.send(sc.req("GET", "/ws/echo", [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                                            ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", "13")]))
        head = raw.read_until(b"\r\n\r\n")
        raw.close()
        return head.startswith(b"HTTP/1.1 101")
    except Exception:  # noqa: BLE001
        return False


def websocket(s, seed):
    r = rng(seed)
    while not STOP.is_set():
        try:
            raw = sc.RawConn(s.port, timeout=15)
            key = base64.b64encode(os.urandom(16)).decode()
            raw.send(sc.req("GET", "/ws/echo", [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                                                ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", "13")]))
            head = raw.read_until(b"\r\n\r\n")
            accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
                                                   .encode()).digest())
            if not head.startswith(b"HTTP/1.1 101") or accept not in head:
                T.fail("websocket", f"handshake: {head[:60]!r}")
                raw.close()
                continue
            text = "soak %d" % r.randrange(10**9)
            binary = bytes(r.getrandbits(8) for _ in range(r.randrange(0, 3000)))
            raw.send(ws_frame(1, text.encode(), r) + ws_frame(2, binary, r))
            op1, p1 = ws_read_frame(raw)
            op2, p2 = ws_read_frame(raw)
            raw.send(ws_frame(8, struct.pack("!H", 1000), r))
            op3, p3 = ws_read_frame(raw)
            if (op1, p1, op2, p2, op3) == (1, text.encode(), 2, binary, 8) and p3[:2] == struct.pack("!H", 1000):
                T.good("websocket")
            else:
                T.fail("websocket", f"echo: {op1} {p1[:20]!r} {op2} {len(p2)} {op3} {p3[:2]!r}")
            raw.close()
        except Exception as e:  # noqa: BLE001
            T.fail("websocket", repr(e))


# ---- hostile clients ---------------------------------------------------------------


def slowloris(s, seed):
    socks = []
    head = sc.req("GET", "/hello", [("X-Slow", "a" * 200)])
    pos = {}
    while not STOP.is_set():
        while len(socks) < 20:
            try:
                k = socket.create_connection((sc.HOST, s.port), timeout=5)
                k.setblocking(False)
                socks.append(k)
                pos[k] = 0
            except OSError:
                break
        for k in list(socks):
            try:
                i = pos[k] % (len(head) - 2)  # never the final CRLF
                k.send(head[i:i + 1])
                pos[k] += 1
                T.good("slowloris")
            except OSError:  # closed by the server (header timeout): fine, replace it
                socks.remove(k)
                k.close()
        STOP.wait(1.0)
    for k in socks:
        k.close()


def rst_close(k):
    k.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    k.close()


def reset(s, seed):
    r = rng(seed)
    while not STOP.is_set():
        try:
            k = socket.create_connection((sc.HOST, s.port), timeout=5)
            if r.random() < 0.5:
                # Mid-request: half a body.
                k.sendall(sc.req("POST", "/echo", [("Content-Length", "100000")], b"x" * r.randrange(0, 50000)))
            else:
                # Mid-response: a big echo, a little of it read.
                k.sendall(sc.req("POST", "/echo", [], b"y" * 300000))
                k.recv(r.randrange(1, 4096))
            rst_close(k)
            T.good("reset")
        except OSError:
            T.good("reset")  # the server may close first: also fine
        STOP.wait(0.01)


def malformed(s, seed):
    r = rng(seed)
    cases = [
        lambda: bytes(r.getrandbits(8) for _ in range(r.randrange(1, 600))),
        lambda: b"GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n",
        lambda: b"GET /" + b"p" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        lambda: b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
        lambda: b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        lambda: b"GET /hello HTTP/9.9\r\nHost: x\r\n\r\n",
        lambda: b"GET /hello HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
        lambda: b"\r\n" * 3000,
    ]
    while not STOP.is_set():
        try:
            k = socket.create_connection((sc.HOST, s.port), timeout=10)
            k.sendall(r.choice(cases)())
            k.settimeout(10)
            data = k.recv(200)
            # Either a 4xx/5xx or a close, never a 200 to garbage.
            if data.startswith(b"HTTP/1.1 2"):
                T.fail("malformed", f"accepted: {data[:60]!r}")
            else:
                T.good("malformed")
            k.close()
        except OSError:
            T.good("malformed")
        STOP.wait(0.005)


# ---- the run -----------------------------------------------------------------------


def open_fds(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def main():
    sc.skip_unless_native("RSS and fd counts are read from /proc for the statusd process itself")
    state = tempfile.mkdtemp(prefix="soak-state-")
    s = sc.Statusd(["--https", f"{sc.HOST}:0", "--state-dir", state, "--max-conns", "1024"])
    ca = os.path.join(state, "cert.pem")
    require(s.get("/hello")[2] == HELLO, "statusd does not answer before the soak")
    time.sleep(0.3)
    fds_start = open_fds(s.pid)
    ws = has_websocket(s)
    log(f"  soak for {SECONDS:.0f} s (warm-up {WARMUP:.0f} s); statusd pid {s.pid}, {fds_start} fds open; "
        f"WebSocket {'on' if ws else 'not served: skipped'}")

    workers = [(keepalive, 4), (churn, 2), (pipelined, 1), (echo, 2), (tls, 2), (slowloris, 1), (reset, 1),
               (malformed, 1)]
    if ws:
        workers.append((websocket, 2))
    threads = []
    seed = 1
    for fn, n in workers:
        for _ in range(n):
            args = (s, seed, ca) if fn is tls else (s, seed)
            threads.append(threading.Thread(target=fn, args=args, daemon=True, name=fn.__name__))
            seed += 1
    t0 = time.monotonic()
    for t in threads:
        t.start()
    rss = []
    rss_warm = None
    while time.monotonic() - t0 < SECONDS:
        time.sleep(1.0)
        v = s.rss_kib()
        require(v is not None, "statusd died during the soak")
        rss.append(v)
        if rss_warm is None and time.monotonic() - t0 >= WARMUP:
            rss_warm = v
    STOP.set()
    for t in threads:
        t.join(30)
    stuck = [t.name for t in threads if t.is_alive()]
    check(not stuck, f"client threads did not stop: {stuck}")

    # Still answering, and back to the fds it started with once every client is gone.
    st, _, body = s.get("/hello")
    check(st == 200 and body == HELLO, f"statusd after the soak: {st} {body[:40]!r}")
    deadline = time.monotonic() + 15
    fds_end = open_fds(s.pid)
    while fds_end != fds_start and time.monotonic() < deadline:
        time.sleep(0.2)
        fds_end = open_fds(s.pid)
    rss_end = s.rss_kib()
    rss_warm = rss_warm or (rss[0] if rss else rss_end)
    rss_max = max(rss) if rss else rss_end
    total = sum(T.ok.values())
    log(f"  {total} exchanges in {SECONDS:.0f} s: " + ", ".join(f"{k} {v}" for k, v in sorted(T.ok.items())))
    if T.bad:
        log("  failures: " + ", ".join(f"{k} {v}" for k, v in sorted(T.bad.items())))
        for e in T.examples:
            log("    " + e)
    log(f"  RSS after warm-up {rss_warm} KiB, highest {rss_max} KiB, at the end {rss_end} KiB; "
        f"fds {fds_start} at start, {fds_end} at the end")
    well_formed = ["keepalive", "churn", "pipelined", "echo", "tls"] + (["websocket"] if ws else [])
    for k in well_formed:
        check(T.ok.get(k, 0) > 0, f"no {k} exchange succeeded")
        check(T.bad.get(k, 0) == 0, f"{T.bad.get(k, 0)} {k} exchanges went wrong")
    check(T.bad.get("malformed", 0) == 0, "a malformed request was answered 2xx")
    check(fds_end == fds_start, f"statusd holds {fds_end} fds after the soak, {fds_start} before")
    check(rss_max - rss_warm <= RSS_GROWTH_LIMIT_KIB,
          f"RSS grew {rss_max - rss_warm} KiB after warm-up (limit {RSS_GROWTH_LIMIT_KIB})")
    s.stop(allow=r"tls|TLS")
    ok(f"soak: {total} exchanges, RSS +{rss_max - rss_warm} KiB after warm-up, fds back to {fds_end}")


if __name__ == "__main__":
    sc.run(main, budget_s=SECONDS + 120)
