#!/usr/bin/env python3
"""statusd's dashboard in headless Chromium, driven over the DevTools protocol
(with this suite's own WebSocket client): the page renders live figures, the
uptime it shows advances between two reads, no script error or CSP violation
is reported, and a screenshot is saved as $BUILD/dashboard.png. Skipped (77)
on cross boards and where Chromium is not installed."""
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import statusd_common as sc  # noqa: E402
from statusd_common import check, log, ok, require  # noqa: E402
from ws_common import WsClient  # noqa: E402

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-dev-shm-usage", "--remote-allow-origins=*", "--window-size=1200,900"]


def chromium():
    for name in ("chromium", "chromium-browser"):
        p = shutil.which(name)
        if p:
            return p
    return None


class Cdp:
    """One DevTools page session over a WebSocket."""

    def __init__(self, port, path):
        self.ws = WsClient(port, path, timeout=30)
        require(self.ws.status == 101, f"DevTools WebSocket handshake answered {self.ws.status}")
        self.next_id = 0
        self.events = []

    def message(self, timeout):
        parts = []
        while True:
            fin, op, data = self.ws.recv_frame(timeout)
            if op in (0x1, 0x2, 0x0):
                parts.append(data)
                if fin:
                    return json.loads(b"".join(parts))

    def call(self, method, timeout=30, **params):
        self.next_id += 1
        self.ws.send_text(json.dumps({"id": self.next_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            m = self.message(max(0.1, deadline - time.monotonic()))
            if m.get("id") == self.next_id:
                require("error" not in m, f"{method}: {m.get('error')}")
                return m.get("result", {})
            self.events.append(m)

    def evaluate(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True)
        return r.get("result", {}).get("value")


def main():
    sc.skip_unless_native("Chromium runs on the build machine, not under the board's emulator")
    exe = chromium()
    if not exe:
        print("chromium is not installed (apt-get install chromium; make deps installs it on the host board)")
        sys.exit(77)
    s = sc.Statusd()
    url = s.url("/")
    profile = tempfile.mkdtemp(prefix="gust-chromium-")
    err_path = os.path.join(profile, "stderr.txt")
    with open(err_path, "wb") as err:
        browser = subprocess.Popen([exe, *FLAGS, "--remote-debugging-port=0", f"--user-data-dir={profile}",
                                    "about:blank"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    try:
        port = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and port is None and browser.poll() is None:
            with open(err_path, "rb") as f:
                m = re.search(rb"DevTools listening on ws://127\.0\.0\.1:(\d+)/", f.read())
            if m:
                port = int(m.group(1))
            else:
                time.sleep(0.1)
        require(port, f"Chromium did not start its DevTools endpoint (exit {browser.poll()})")
        req = urllib.request.Request(f"http://127.0.0.1:{port}/json/new?about:blank", method="PUT")
        with urllib.request.urlopen(req, timeout=10) as r:
            target = json.loads(r.read())
        path = "/" + target["webSocketDebuggerUrl"].split("/", 3)[3]
        cdp = Cdp(port, path)
        cdp.call("Runtime.enable")
        cdp.call("Log.enable")
        cdp.call("Page.enable")
        cdp.call("Page.navigate", url=url)

        def shown_uptime(after=None, within=15.0):
            end = time.monotonic() + within
            while time.monotonic() < end:
                v = cdp.evaluate("document.getElementById('uptime').dataset.seconds")
                if v and (after is None or int(v) > after):
                    return int(v)
                time.sleep(0.25)
            return None

        first = shown_uptime()
        require(first is not None, "the dashboard never showed an uptime")
        text1 = cdp.evaluate("document.getElementById('uptime').textContent")
        time.sleep(2.2)
        second = shown_uptime(after=first, within=5)
        text2 = cdp.evaluate("document.getElementById('uptime').textContent")
        check(second is not None and second > first, f"uptime shown did not advance: {text1!r} then {text2!r}")
        log(f"  uptime shown: {text1} then {text2}")
        state = cdp.evaluate("document.getElementById('link').dataset.state + ' ' + document.getElementById('link').textContent")
        check(state and state.startswith("live"), f"link state {state!r}")
        host = cdp.evaluate("document.getElementById('hostname').textContent")
        check(host and host != "statusd", f"hostname not filled in: {host!r}")
        for field in ("load", "memory", "connections", "requests"):
            v = cdp.evaluate(f"document.getElementById('{field}').textContent")
            check(v and v != "–", f"{field} not filled in: {v!r}")
        rows = cdp.evaluate("document.getElementById('interfaces').children.length")
        check(rows and rows >= 1, f"interfaces table has {rows} rows")
        time.sleep(0.5)
        shot = cdp.call("Page.captureScreenshot", format="png")
        png = base64.b64decode(shot["data"])
        out = os.path.join(sc.build_dir(), "dashboard.png")
        with open(out, "wb") as f:
            f.write(png)
        check(png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10000, f"screenshot of {len(png)} bytes")
        log(f"  screenshot: {out} ({len(png)} bytes)")
        cdp.call("Runtime.evaluate", expression="0")  # flush pending events
        problems = []
        for e in cdp.events:
            if e.get("method") == "Runtime.exceptionThrown":
                problems.append(e["params"]["exceptionDetails"].get("text", "exception"))
            if e.get("method") == "Log.entryAdded" and e["params"]["entry"].get("level") == "error":
                problems.append(e["params"]["entry"].get("text", ""))
        check(not problems, f"the page reported errors: {problems[:5]}")
        ok("dashboard renders live figures in Chromium; uptime advances")
        try:
            cdp.call("Browser.close", timeout=5)
        except Exception:  # noqa: BLE001 - closing is best effort
            pass
    finally:
        if browser.poll() is None:
            browser.terminate()
            try:
                browser.wait(10)
            except subprocess.TimeoutExpired:
                browser.kill()
        shutil.rmtree(profile, ignore_errors=True)
    s.stop()


if __name__ == "__main__":
    sc.run(main, budget_s=120.0)
