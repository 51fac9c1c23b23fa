#!/usr/bin/env python3
"""Concurrency: 200 simultaneous GET /api/slow?ms=500 finish together (one loop,
nothing blocks); clients that vanish mid-request and mid-response do not
disturb 50 well-behaved ones; --max-conns 8 answers a 9th connection 503 and
closes it while the 8 held ones keep working."""
import http.client
import os
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import statusd_common as sc  # noqa: E402
from statusd_common import check, log, ok, require  # noqa: E402

N_SLOW = 200


def slow_200(s):
    results = [None] * N_SLOW
    barrier = threading.Barrier(N_SLOW + 1, timeout=20)

    def worker(i):
        try:
            c = http.client.HTTPConnection(sc.HOST, s.port, timeout=15)
            c.connect()
            barrier.wait()
            c.request("GET", "/api/slow?ms=500")
            r = c.getresponse()
            body = r.read()
            results[i] = (r.status, body, time.monotonic())
            c.close()
        except Exception as e:  # noqa: BLE001 - reported below
            results[i] = ("error", repr(e), time.monotonic())
            try:
                barrier.abort()
            except Exception:  # noqa: BLE001
                pass

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(N_SLOW)]
    for t in threads:
        t.start()
    try:
        barrier.wait()  # every connection is established: start the clock
    except threading.BrokenBarrierError:
        pass
    t0 = time.monotonic()
    deadline = t0 + 20
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    wall = time.monotonic() - t0
    good = sum(1 for r in results if r and r[0] == 200 and r[1] == b"slept\n")
    errors = [r for r in results if not r or r[0] != 200]
    log(f"  {N_SLOW} concurrent GET /api/slow?ms=500: {good} x 200 in {wall:.2f} s wall time")
    check(good == N_SLOW, f"only {good} of {N_SLOW} concurrent slow requests got 200; e.g. {errors[:3]}")
    check(wall < 3.0, f"{N_SLOW} concurrent 500 ms requests took {wall:.2f} s (>= 3 s): requests are serialised?")
    check(wall >= 0.5, f"{N_SLOW} concurrent 500 ms requests took only {wall:.2f} s")
    ok(f"{N_SLOW} concurrent slow requests in {wall:.2f} s")
    return wall


def rude_clients(s):
    """Half a request then gone; a large echo dropped after a few bytes; meanwhile 50 good requests."""
    stop = threading.Event()
    rude_done = {"half": 0, "mid": 0, "errors": []}

    def half_request():
        for i in range(10):
            try:
                c = socket.create_connection((sc.HOST, s.port), timeout=5)
                if i % 2:
                    c.sendall(b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n" + b"a" * 5000)
                else:
                    c.sendall(b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: ")
                time.sleep(0.02)
                c.close()
                rude_done["half"] += 1
            except OSError as e:
                rude_done["errors"].append(f"half request: {e}")

    def mid_response():
        body = b"m" * (1 << 20)
        for i in range(5):
            try:
                c = socket.create_connection((sc.HOST, s.port), timeout=5)
                c.sendall(sc.req("POST", "/echo", [], body))
                got = c.recv(100)
                if not got.startswith(b"HTTP/1.1 200"):
                    rude_done["errors"].append(f"mid response: first bytes {got!r}")
                # close with unread data: the server sees a reset while writing
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                c.close()
                rude_done["mid"] += 1
            except OSError as e:
                rude_done["errors"].append(f"mid response: {e}")

    good = {"ok": 0, "bad": []}
    lock = threading.Lock()

    def polite(k):
        c = http.client.HTTPConnection(sc.HOST, s.port, timeout=10)
        for j in range(5):
            try:
                if j % 2:
                    body = bytes([k, j]) * 3000
                    c.request("POST", "/echo", body=body, headers={"Content-Type": "x/polite"})
                    want = body
                else:
                    c.request("GET", "/hello")
                    want = b"Hello, world!"
                r = c.getresponse()
                got = r.read()
                with lock:
                    if r.status == 200 and got == want:
                        good["ok"] += 1
                    else:
                        good["bad"].append(f"client {k} request {j}: {r.status} {len(got)} bytes")
            except Exception as e:  # noqa: BLE001
                with lock:
                    good["bad"].append(f"client {k} request {j}: {e!r}")
                c.close()
                c = http.client.HTTPConnection(sc.HOST, s.port, timeout=10)
        c.close()

    threads = [threading.Thread(target=half_request, daemon=True), threading.Thread(target=mid_response, daemon=True)]
    threads += [threading.Thread(target=polite, args=(k,), daemon=True) for k in range(10)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, 20 - (time.monotonic() - t0)))
    stop.set()
    require(not any(t.is_alive() for t in threads), "rude/polite clients did not finish within 20 s")
    check(not rude_done["errors"], "rude clients saw: " + "; ".join(rude_done["errors"][:5]))
    check(good["ok"] == 50, f"{good['ok']} of 50 polite requests were right; " + "; ".join(good["bad"][:5]))
    log(f"  {rude_done['half']} half requests, {rude_done['mid']} dropped responses, {good['ok']} good answers")
    # The dropped connections are reaped: only ours stays open (bounded wait).
    deadline = time.monotonic() + 5
    open_now = None
    while time.monotonic() < deadline:
        open_now = s.status_json()["server"]["connections_open"]
        if open_now <= 1:
            break
        time.sleep(0.1)
    check(open_now is not None and open_now <= 1,
          f"{open_now} connections still open 5 s after the rude clients left (expected only the status one)")
    ok("rude clients do not disturb the others")


def connection_limit():
    s = sc.Statusd(["--max-conns", "8"])
    log(f"statusd --max-conns 8: pid {s.pid} port {s.port}")
    held = []
    for i in range(8):
        c = s.raw(timeout=5)
        r = c.request(sc.req("GET", "/hello"))
        require(r.status == 200, f"held connection {i}: {r.status}")
        held.append(c)
    # The 9th: 503 and closed.
    extra = s.raw(timeout=5)
    try:
        extra.send(sc.req("GET", "/hello"))
    except OSError:
        pass  # the server may already have answered and closed
    try:
        r = extra.read_response(timeout=5)
        check(r.status == 503, f"9th connection at --max-conns 8: status {r.status}, expected 503")
        check(extra.closed_by_server(2) is True, "9th connection: not closed after its 503")
        if r.header("Date") is None:
            log("  note: the 503 for an over-limit connection carries no Date header")
    except (sc.ProtocolError, socket.timeout, TimeoutError) as e:
        check(False, f"9th connection at --max-conns 8: no 503 ({e})")
    extra.close()
    # The 8 still work, twice each.
    for i, c in enumerate(held):
        for _ in range(2):
            try:
                r = c.request(sc.req("GET", "/hello"))
                check(r.status == 200 and r.body == b"Hello, world!", f"held connection {i} after the 503: {r}")
            except (OSError, sc.ProtocolError) as e:
                check(False, f"held connection {i} after the 503: {e}")
                break
    held.pop().close()
    # A free slot again: a new connection is served, and the refusal was counted.
    deadline = time.monotonic() + 3
    st = None
    while time.monotonic() < deadline:
        try:
            c = s.raw(timeout=3)
            r = c.request(sc.req("GET", "/api/status", [("Connection", "close")]))
            c.close()
            if r.status == 200:
                st = sc.json.loads(r.body)["server"]
                break
        except (OSError, sc.ProtocolError):
            pass
        time.sleep(0.05)
    check(st is not None, "no new connection was served after one of the 8 closed")
    if st:
        check(st["connections_refused"] >= 1, f"connections_refused is {st['connections_refused']} after a 503")
        check(st["connections_high_water"] <= 8, f"connections_high_water {st['connections_high_water']} > 8")
    for c in held:
        c.close()
    s.stop(allow=r"^WARN")
    ok("--max-conns 8: the 9th connection gets 503, the 8 keep working")


def main():
    s = sc.Statusd()
    log(f"statusd pid {s.pid} port {s.port}")
    slow_200(s)
    rude_clients(s)
    s.stop(allow=r"^WARN")
    connection_limit()


if __name__ == "__main__":
    sc.run(main)
