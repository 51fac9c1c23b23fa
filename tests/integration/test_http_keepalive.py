#!/usr/bin/env python3
"""Connection handling with http.client and raw sockets: 100 keep-alive
requests on one connection (one accepted connection, counted by the server),
HTTP/1.0 with and without keep-alive, POST/PUT /echo with Content-Length and
chunked bodies of random sizes and chunking up to 1 MiB, 413 over 1 MiB,
Expect: 100-continue, 10 pipelined requests in one write, and the 10 s
header timeout (in the background)."""
import http.client
import os
import random
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import statusd_common as sc  # noqa: E402
from statusd_common import check, log, ok, require  # noqa: E402

MiB = 1 << 20


def header_timeout(s, result):
    """A client that sends half a head and stalls: the server gives up after ~10 s."""
    c = s.raw(timeout=20)
    c.send(b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    t0 = time.monotonic()
    status = None
    try:
        r = c.read_response(timeout=16)
        status = r.status
        closed = c.closed_by_server(2)
    except sc.ProtocolError:
        closed = True  # closed without an answer
    except (socket.timeout, TimeoutError):
        closed = False
    result["dt"] = time.monotonic() - t0
    result["status"] = status
    result["closed"] = closed
    c.close()


def keepalive_100(s):
    c0 = s.http()
    # Queries of their own: fresh figures, not statusd's cached /api/status.
    c0.request("GET", "/api/status?fresh=before")
    r = c0.getresponse()
    before = sc.json.loads(r.read())["server"]["connections_accepted"]
    c0.close()

    c = s.http()
    c.connect()
    local = c.sock.getsockname()
    for i in range(100):
        if i % 2:
            c.request("GET", "/hello")
        else:
            c.request("POST", "/echo", body=b"x" * i, headers={"Content-Type": "text/x-test"})
        r = c.getresponse()
        body = r.read()
        want = b"x" * i if i % 2 == 0 else b"Hello, world!"
        if not check(r.status == 200 and body == want, f"keep-alive request {i}: {r.status} {body[:40]!r}"):
            break
        check((r.getheader("Connection") or "").lower() != "close", f"keep-alive request {i}: Connection: close")
        if not check(c.sock is not None and c.sock.getsockname() == local,
                     f"keep-alive request {i}: the connection was closed and http.client reconnected"):
            break
    c.request("GET", "/api/status?fresh=after")
    r = c.getresponse()
    after = sc.json.loads(r.read())["server"]["connections_accepted"]
    check(c.sock is not None and c.sock.getsockname() == local, "connection changed before the final /api/status")
    c.close()
    check(after - before == 1, f"connections_accepted went {before} -> {after} over 101 keep-alive requests; "
                               "expected exactly one more")
    ok(f"100 keep-alive requests on one connection (connections_accepted {before} -> {after})")


def http10(s):
    c = s.raw()
    r = c.request(b"GET /hello HTTP/1.0\r\n\r\n")
    check(r.status == 200 and r.body == b"Hello, world!", f"HTTP/1.0 GET /hello: {r} {r.body!r}")
    check((r.header("Connection") or "close").lower() == "close",
          f"HTTP/1.0 without keep-alive: Connection: {r.header('Connection')!r}")
    check(c.closed_by_server(2) is True, "HTTP/1.0 without keep-alive: the server did not close the connection")
    c.close()

    c = s.raw()
    for i in range(3):
        r = c.request(b"GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        check(r.status == 200 and r.body == b"Hello, world!", f"HTTP/1.0 keep-alive request {i}: {r}")
        check((r.header("Connection") or "").lower() == "keep-alive",
              f"HTTP/1.0 keep-alive request {i}: Connection: {r.header('Connection')!r}, expected keep-alive")
        check(r.header("Content-Length") == "13", f"HTTP/1.0 keep-alive: Content-Length {r.header('Content-Length')!r}")
    check(c.closed_by_server(0.3) is False, "HTTP/1.0 with Connection: keep-alive: the server closed")
    # An HTTP/1.0 POST /echo with keep-alive must still be length-delimited.
    r = c.request(b"POST /echo HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\nhello")
    check(r.status == 200 and r.body == b"hello", f"HTTP/1.0 keep-alive POST /echo: {r} {r.body!r}")
    c.close()

    # HTTP/1.1 with Connection: close: answered, then closed.
    c = s.raw()
    r = c.request(sc.req("GET", "/hello", [("Connection", "close")]))
    check(r.status == 200 and (r.header("Connection") or "").lower() == "close",
          f"HTTP/1.1 Connection: close: {r} Connection {r.header('Connection')!r}")
    check(c.closed_by_server(2) is True, "HTTP/1.1 Connection: close: the server did not close")
    c.close()
    ok("HTTP/1.0 closes; HTTP/1.0 with keep-alive stays open; 1.1 Connection: close closes")


def echo_bodies(s, rng):
    sizes = [0, 1, 2, 100, 2047, 2048, 2049, 8191, 8192, 8193, 65536, 70000, MiB - 1, MiB]
    sizes += [rng.randrange(0, MiB + 1) for _ in range(8)]
    types = ["application/x-test", "text/plain; charset=utf-8", None, "image/png"]
    total = 0
    reconnects = []  # requests after which the server closed the keep-alive connection
    c = s.http(timeout=20)
    c.connect()
    local = c.sock.getsockname()

    def exchange(what, method, body, headers, **kw):
        nonlocal c, local
        c.request(method, "/echo", body=body, headers=headers, **kw)
        r = c.getresponse()
        got = r.read()
        ctype = headers.get("Content-Type")
        check(r.status == 200 and got == want,
              f"{what}: status {r.status}, {len(got)} bytes back, equal={got == want}")
        check(r.getheader("Content-Type") == (ctype or "application/octet-stream"),
              f"{what}: Content-Type {r.getheader('Content-Type')!r}, expected {ctype!r}")
        if r.will_close or c.sock is None:
            reconnects.append(what)
            c.close()
            c = s.http(timeout=20)
            c.connect()
            local = c.sock.getsockname()
        elif c.sock.getsockname() != local:
            check(False, f"{what}: http.client silently reconnected")

    for n, size in enumerate(sizes):
        want = body = rng.randbytes(size)
        ctype = types[n % len(types)]
        headers = {"Content-Type": ctype} if ctype else {}
        method = "POST" if n % 3 else "PUT"
        exchange(f"{method} /echo Content-Length {size}", method, body, headers)
        pieces = []
        i = 0
        while i < size:
            k = rng.choice([1, 7, 100, 1000, 4096, 8192, 30000, 200000])
            pieces.append(body[i:i + k])
            i += k
        exchange(f"{method} /echo chunked {size} in {len(pieces)} chunks", method, iter(pieces),
                 dict(headers, **{"Transfer-Encoding": "chunked"}), encode_chunked=True)
        total += 2 * size
    c.close()
    ok(f"/echo: {2 * len(sizes)} bodies ({total / MiB:.1f} MiB), Content-Length and chunked, types echoed")
    # Keep-alive is the HTTP/1.1 default: a handler that reads its whole body should
    # not cost the client its connection.
    by_cl = [w for w in reconnects if "Content-Length" in w]
    by_chunked = [w for w in reconnects if "chunked" in w]
    check(not by_cl, f"/echo answered Connection: close to {len(by_cl)} of {len(sizes)} Content-Length requests "
                     "although every body was read in full: " + "; ".join(by_cl[:8]))
    check(not by_chunked, f"/echo answered Connection: close to {len(by_chunked)} of {len(sizes)} chunked requests "
                          "although every body was read in full: " + "; ".join(by_chunked[:8]))
    ok("/echo keeps the connection alive")


def too_large(s):
    # Content-Length over the limit: 413 without reading the body, then close.
    c = s.raw(timeout=5)
    c.send(sc.req("POST", "/echo", [("Content-Length", str(MiB + 1))]))
    sender = threading.Thread(target=_send_quietly, args=(c, b"z" * (MiB + 1)), daemon=True)
    sender.start()
    try:
        r = c.read_response()
        check(r.status == 413, f"POST /echo Content-Length 1 MiB + 1: status {r.status}, expected 413")
        check(c.closed_by_server(3) is True, "413 (Content-Length): the connection was not closed")
    except (sc.ProtocolError, socket.timeout, TimeoutError) as e:
        check(False, f"POST /echo Content-Length 1 MiB + 1: no response ({e})")
    c.close()
    sender.join(5)
    # Chunked over the limit: the server only finds out while reading.
    c = s.raw(timeout=5)
    body = sc.chunked(b"q" * (MiB + 1), [65536])
    c.send(sc.req("POST", "/echo", [("Transfer-Encoding", "chunked")]))
    sender = threading.Thread(target=_send_quietly, args=(c, body), daemon=True)
    sender.start()
    # /echo streams, so its 200 head may be out before the limit is hit; then the
    # only honest answer is to cut the response (no last chunk). A cleanly ended
    # 200 with a truncated body would look like success to the client.
    try:
        r = c.read_response()
        check(r.status == 413, f"POST /echo chunked 1 MiB + 1: status {r.status} with a complete "
                               f"{r.header('Transfer-Encoding') and 'chunked ' or ''}body of {len(r.body)} bytes; "
                               "expected 413, or the response cut off before its last chunk")
        check(c.closed_by_server(3) is True, "413 (chunked): the connection was not closed")
    except sc.ProtocolError as e:
        log(f"  (chunked 1 MiB + 1: the response was cut off: {e})")
    except (socket.timeout, TimeoutError) as e:
        check(False, f"POST /echo chunked 1 MiB + 1: no response ({e})")
    c.close()
    sender.join(5)
    ok("1 MiB + 1 -> 413 (Content-Length and chunked)")


def _send_quietly(c, data):
    try:
        c.sock.sendall(data)
    except OSError:
        pass


def expect_continue(s, rng):
    body = rng.randbytes(50000)
    c = s.raw(timeout=5)
    c.send(sc.req("POST", "/echo", [("Content-Type", "application/x-cont"), ("Content-Length", str(len(body))),
                                    ("Expect", "100-continue")]))
    try:
        interim = c.read_response(timeout=3, skip_interim=False)
        check(interim.status == 100, f"Expect: 100-continue: first response {interim.status}, expected 100")
        check(interim.head.startswith(b"HTTP/1.1 100 Continue\r\n"), f"100 Continue head: {interim.head!r}")
    except (sc.ProtocolError, socket.timeout, TimeoutError) as e:
        check(False, f"Expect: 100-continue: no 100 Continue within 3 s ({e})")
    c.send(body)
    r = c.read_response()
    check(r.status == 200 and r.body == body, f"Expect: 100-continue: final {r.status}, {len(r.body)} bytes")
    check(r.header("Content-Type") == "application/x-cont", f"Expect: Content-Type {r.header('Content-Type')!r}")
    # Same connection, chunked body with Expect.
    c.send(sc.req("PUT", "/echo", [("Transfer-Encoding", "chunked"), ("Expect", "100-continue")]))
    interim = c.read_response(timeout=3, skip_interim=False)
    check(interim.status == 100, f"Expect with chunked body: first response {interim.status}")
    c.send(sc.chunked(body, [1000, 333]))
    r = c.read_response()
    check(r.status == 200 and r.body == body, f"Expect chunked: final {r.status}, {len(r.body)} bytes")
    if (r.header("Connection") or "").lower() == "close":  # see the /echo keep-alive check
        c.close()
        c = s.raw(timeout=5)
    # A GET route that reads no body never sends 100 Continue, just the answer.
    r = c.request(sc.req("GET", "/hello", [("Expect", "100-continue")]))
    check(r.status == 200 and r.body == b"Hello, world!", f"GET /hello with Expect: {r.status}")
    c.close()
    ok("Expect: 100-continue")


def pipelining(s, rng, what, chunked_max):
    """10 requests in one write; chunked bodies up to chunked_max bytes."""
    reqs = []
    want = []
    for i in range(10):
        kind = i % 4
        if kind == 0:
            reqs.append(sc.req("GET", "/hello"))
            want.append(("GET", b"Hello, world!"))
        elif kind == 1:
            b = rng.randbytes(rng.randrange(1, 20000))
            reqs.append(sc.req("POST", "/echo", [("Content-Type", f"x/{i}")], b))
            want.append(("POST", b))
        elif kind == 2:
            reqs.append(sc.req("HEAD", "/hello"))
            want.append(("HEAD", b""))
        else:
            b = rng.randbytes(rng.randrange(chunked_max // 2, chunked_max))
            reqs.append(sc.req("PUT", "/echo", [("Content-Type", f"x/{i}"), ("Transfer-Encoding", "chunked")],
                               sc.chunked(b, [100, 7])))
            want.append(("PUT", b))
    c = s.raw(timeout=10)
    c.send(b"".join(reqs))
    for i, (method, body) in enumerate(want):
        try:
            r = c.read_response(method)
        except (sc.ProtocolError, socket.timeout, TimeoutError) as e:
            check(False, f"{what}: pipelined response {i} ({method}): {e}")
            break
        check(r.status == 200 and r.body == body,
              f"{what}: pipelined response {i} ({method}): {r.status}, {len(r.body)} bytes, expected {len(body)}")
        if method in ("POST", "PUT"):
            check(r.header("Content-Type") == f"x/{i}",
                  f"{what}: response {i}: Content-Type {r.header('Content-Type')!r}, expected x/{i} (out of order?)")
        if method == "HEAD":
            check(r.header("Content-Length") == "13", f"{what}: HEAD Content-Length {r.header('Content-Length')!r}")
        if (r.header("Connection") or "").lower() == "close" and i < 9:
            check(False, f"{what}: response {i} ({method}, {len(body)} bytes) said Connection: close with "
                         f"{9 - i} pipelined requests still waiting")
    else:
        check(c.closed_by_server(0.3) is False, f"{what}: after 10 pipelined requests the server closed")
        try:
            r = c.request(sc.req("GET", "/hello", [("Connection", "close")]))
            check(r.status == 200, f"{what}: request after the pipeline: {r.status}")
        except (OSError, sc.ProtocolError) as e:
            check(False, f"{what}: request after the pipeline failed: {e}")
    c.close()
    ok(f"{what}: 10 pipelined requests in one write answered in order")


def main():
    seed = int(os.environ.get("SEED", time.time_ns() % 1000000))
    log(f"random seed {seed} (SEED={seed} repeats it)")
    rng = random.Random(seed)
    s = sc.Statusd()
    log(f"statusd pid {s.pid} port {s.port}")
    # keepalive_100 counts accepted connections, so the stalled client of the
    # header-timeout check starts after it (on a slow runner such as qemu its
    # connection could otherwise land inside the count).
    keepalive_100(s)
    ht = {}
    t = threading.Thread(target=header_timeout, args=(s, ht), daemon=True)
    t.start()
    t0 = time.monotonic()
    http10(s)
    echo_bodies(s, rng)
    too_large(s)
    expect_continue(s, rng)
    pipelining(s, rng, "pipeline with chunked bodies < 2 KiB", 2000)
    pipelining(s, rng, "pipeline with chunked bodies of 2-6 KiB", 6000)
    t.join(max(0.0, 20 - (time.monotonic() - t0)))
    require(not t.is_alive(), "the header-timeout client did not finish in 20 s")
    log(f"  header timeout: closed={ht.get('closed')} after {ht.get('dt', 0):.1f} s, status {ht.get('status')}")
    check(ht.get("closed") is True and 9.0 <= ht.get("dt", 0) <= 13.0,
          f"a half-sent head should be dropped after ~10 s: closed={ht.get('closed')} after {ht.get('dt', 0):.1f} s")
    check(ht.get("status") in (None, 408), f"header timeout answered {ht.get('status')}, expected 408 or nothing")
    ok("header timeout")
    s.stop(allow=r"^WARN")


if __name__ == "__main__":
    sc.run(main)
