#!/usr/bin/env python3
"""1 000 concurrent idle WebSocket connections to statusd's /ws/echo (fewer
on a board whose pools hold fewer sessions at once): all are held open, none
borrows an I/O buffer while idle, every one still echoes afterwards, and the
test reports statusd's RSS per idle connection."""
import os
import resource
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import statusd_common as sc  # noqa: E402
from statusd_common import check, log, ok, require  # noqa: E402
from ws_common import WsClient  # noqa: E402

WANT = 1000


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 2 * WANT + 200
    if soft < want:
        if hard != resource.RLIM_INFINITY and hard < want:
            print(f"needs {want} file descriptors, the hard limit is {hard}")
            sys.exit(77)
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))  # statusd inherits it
    s = sc.Statusd(["--max-conns", str(WANT + 100)])
    # Each open WebSocket holds a serve frame; a small board (mips: 300) sizes
    # its frame pool for fewer. Open what the board holds, short of its limit.
    capacity = s.status_json()["server"]["frames"]["request_capacity"]
    N = min(WANT, capacity - 8)
    check(N >= 64, f"the board holds only {capacity} requests at once")
    # Warm up: the first connection touches code and pool pages every later one shares.
    w = WsClient(s.port)
    w.send_text("warm")
    w.recv_frame()
    w.close()
    w.expect_close()
    w.shutdown()
    time.sleep(0.3)
    before = s.rss_kib()
    clients = []
    t0 = time.monotonic()
    for i in range(N):
        c = WsClient(s.port, timeout=20)
        require(c.status == 101, f"connection {i}: handshake answered {c.status}")
        clients.append(c)
    opened = time.monotonic() - t0
    time.sleep(0.5)
    after = s.rss_kib()
    st = s.status_json()["server"]
    check(st["connections_open"] >= N, f"connections_open {st['connections_open']} with {N} WebSockets open")
    check(st["buffers"]["in_use"] <= 1, f"idle WebSockets hold buffers: {st['buffers']}")
    per = (after - before) * 1024 / N
    log(f"  {N} idle WebSockets opened in {opened:.2f} s; statusd RSS {before} KiB -> {after} KiB: "
        f"{per:.0f} bytes per idle connection")
    if not sc.runner() and not sc.sanitized():  # an emulator's or ASan's own memory would count too
        check(per < 8192, f"{per:.0f} bytes of RSS per idle WebSocket (expected a few KiB at most)")
    # Every one still answers.
    for i, c in enumerate(clients):
        c.send_text(f"m{i}")
    bad = 0
    for i, c in enumerate(clients):
        try:
            if c.recv_frame(timeout=10) != (True, 0x1, f"m{i}".encode()):
                bad += 1
        except Exception:  # noqa: BLE001
            bad += 1
    check(bad == 0, f"{bad} of {N} idle connections did not echo")
    ok(f"{N} idle WebSockets held and echoing; {per:.0f} bytes RSS each")
    for c in clients:
        c.close()
    for c in clients:
        try:
            c.expect_close(timeout=10)
        except Exception:  # noqa: BLE001
            pass
        c.shutdown()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and s.status_json()["server"]["connections_open"] > 1:
        time.sleep(0.1)
    check(s.status_json()["server"]["connections_open"] <= 1, "connections linger after the clients closed")
    with open(os.path.join(sc.build_dir(), "websocket_idle_rss.txt"), "w") as f:
        f.write(f"{per:.0f}\n")
    s.stop()


if __name__ == "__main__":
    sc.run(main, budget_s=180.0)
