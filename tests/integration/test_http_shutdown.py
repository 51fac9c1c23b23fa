#!/usr/bin/env python3
"""Graceful shutdown: SIGTERM 200 ms into a 1 s request lets it finish with its
200, closes idle keep-alive connections, refuses new connections, and statusd
exits 0 within 6 s. Also: an idle server exits 0 promptly on SIGTERM."""
import errno
import http.client
import os
import signal
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import statusd_common as sc  # noqa: E402
from statusd_common import check, log, ok, require  # noqa: E402


def connect_refused(port, timeout=1.0):
    """'refused' if a connect is refused; otherwise what happened to a request on it."""
    try:
        c = socket.create_connection((sc.HOST, port), timeout=timeout)
    except ConnectionRefusedError:
        return "refused"
    except OSError as e:
        return "refused" if e.errno == errno.ECONNREFUSED else f"connect error {e}"
    try:
        c.sendall(b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        c.settimeout(timeout)
        got = c.recv(100)
        return f"accepted, answered {got[:20]!r}" if got else "accepted, then closed without an answer"
    except socket.timeout:
        return "accepted, no answer"
    except OSError as e:
        return f"accepted, then {e}"
    finally:
        c.close()


def drain():
    s = sc.Statusd()
    log(f"statusd pid {s.pid} port {s.port}")
    # An idle keep-alive connection that has finished a request.
    idle = s.raw(timeout=5)
    r = idle.request(sc.req("GET", "/hello"))
    require(r.status == 200, f"idle connection's first request: {r.status}")

    result = {}

    def slow():
        c = http.client.HTTPConnection(sc.HOST, s.port, timeout=10)
        try:
            c.request("GET", "/api/slow?ms=1000")
            r = c.getresponse()
            result["status"] = r.status
            result["body"] = r.read()
            result["connection"] = r.getheader("Connection")
        except Exception as e:  # noqa: BLE001
            result["error"] = repr(e)
        result["t"] = time.monotonic()
        c.close()

    t = threading.Thread(target=slow, daemon=True)
    t_start = time.monotonic()
    t.start()
    time.sleep(0.2)
    t_term = time.monotonic()
    s.proc.send_signal(signal.SIGTERM)

    # The idle connection is closed soon.
    closed = idle.closed_by_server(2)
    check(closed is True, f"idle keep-alive connection not closed within 2 s of SIGTERM ({closed})")
    # New connections are refused while the slow request drains (bounded retries).
    outcome = None
    deadline = time.monotonic() + 0.6
    while time.monotonic() < deadline:
        outcome = connect_refused(s.port, timeout=0.3)
        if outcome == "refused":
            break
        time.sleep(0.05)
    check(outcome == "refused", f"a new connection during the drain: {outcome}, expected refused")
    check(s.alive(), "statusd exited before its in-flight request finished")

    t.join(5)
    check("error" not in result, f"the in-flight slow request failed: {result.get('error')}")
    check(result.get("status") == 200 and result.get("body") == b"slept\n",
          f"the in-flight slow request: {result.get('status')} {result.get('body')!r}")
    if "t" in result:
        check(result["t"] - t_start >= 1.0, f"slow request answered after {result['t'] - t_start:.2f} s (< 1 s)")
        log(f"  slow request answered {result['t'] - t_term:.2f} s after SIGTERM, "
            f"Connection: {result.get('connection')}")
    try:
        code = s.proc.wait(max(0.1, 6 - (time.monotonic() - t_term)))
    except sc.subprocess.TimeoutExpired:
        code = None
    dt = time.monotonic() - t_term
    s.stopped = True
    log(f"  statusd exited {code} {dt:.2f} s after SIGTERM")
    check(code == 0, f"statusd exit status {code} after SIGTERM (expected 0 within 6 s)")
    check(dt < 6, f"statusd took {dt:.2f} s to exit")
    err = s.stderr()
    bad = [l for l in err.splitlines() if sc.ALARMING.search(l)]
    check(not bad, "alarming stderr: " + " | ".join(bad[:5]))
    check(connect_refused(s.port, 0.3) == "refused", "the port still accepts after exit")
    s.kill()
    s._cleanup()
    ok("SIGTERM drains: in-flight 200, idle closed, new refused, exit 0")


def idle_exit():
    s = sc.Statusd()
    st, _, _ = s.get("/hello")
    require(st == 200, f"/hello {st}")
    dt = s.stop(timeout=6)
    log(f"  idle statusd exited {dt:.2f} s after SIGTERM")
    check(dt < 1.0, f"an idle statusd took {dt:.2f} s to exit after SIGTERM")
    ok("an idle statusd exits 0 promptly")


def drain_deadline():
    """A request longer than the 5 s drain deadline is cut; statusd still exits 0 within 6 s."""
    s = sc.Statusd()
    c = s.raw(timeout=10)
    c.send(sc.req("GET", "/api/slow?ms=10000"))
    time.sleep(0.2)
    t0 = time.monotonic()
    s.proc.send_signal(signal.SIGTERM)
    try:
        code = s.proc.wait(6.5)
    except sc.subprocess.TimeoutExpired:
        code = None
    dt = time.monotonic() - t0
    s.stopped = True
    log(f"  with a 10 s request in flight, statusd exited {code} {dt:.2f} s after SIGTERM")
    check(code == 0 and dt < 6.0, f"drain deadline: exit {code} after {dt:.2f} s, expected 0 within 6 s")
    check(dt >= 4.5, f"drain deadline: exited after only {dt:.2f} s, before the 5 s drain deadline")
    check(c.closed_by_server(1) is True or c.buf.startswith(b"HTTP/1.1 503"),
          f"the cut request's connection: {bytes(c.buf[:60])!r}")
    c.close()
    bad = [l for l in s.stderr().splitlines() if sc.ALARMING.search(l)]
    check(not bad, "alarming stderr: " + " | ".join(bad[:5]))
    s.kill()
    s._cleanup()
    ok("drain deadline: a 10 s request is cut after ~5 s, exit 0")


def main():
    drain()
    idle_exit()
    drain_deadline()


if __name__ == "__main__":
    sc.run(main)
