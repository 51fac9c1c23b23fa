#!/usr/bin/env python3
"""statusd's WebSockets with a real client: Debian's node-ws (the `ws` npm
module) connects to /ws/echo and /ws/status: text and binary echo, a
fragmented message, 64 KiB echoed, 1 MiB closed with 1009, ping answered with
pong, a subprotocol-free handshake, close code echoed, and the status feed.
Skipped (77) on cross boards or without node and node-ws."""
import json
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import statusd_common as sc  # noqa: E402
from statusd_common import check, log, ok  # noqa: E402

NODE_PATH = "/usr/share/nodejs:/usr/lib/nodejs"

CLIENT = r"""
const WebSocket = require('ws');
const port = process.argv[process.argv.length - 1];
const out = (o) => console.log(JSON.stringify(o));
function open(path) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}
function next(ws) {
  return new Promise((resolve) => ws.once('message', (data, isBinary) => resolve({ data, isBinary })));
}
function closed(ws) {
  return new Promise((resolve) => ws.once('close', (code, reason) => resolve(code)));
}
(async () => {
  const ws = await open('/ws/echo');
  ws.send('hello from node');
  let m = await next(ws);
  out({ test: 'text', ok: !m.isBinary && m.data.toString() === 'hello from node' });
  const bin = Buffer.from([0, 1, 2, 253, 254, 255]);
  ws.send(bin);
  m = await next(ws);
  out({ test: 'binary', ok: m.isBinary && Buffer.compare(m.data, bin) === 0 });
  ws.send('frag', { fin: false });
  ws.send('men', { fin: false });
  ws.send('ted', { fin: true });
  m = await next(ws);
  out({ test: 'fragmented', ok: m.data.toString() === 'fragmented' });
  const big = Buffer.alloc(65536);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 255;
  ws.send(big);
  m = await next(ws);
  out({ test: '64KiB', ok: m.isBinary && Buffer.compare(m.data, big) === 0 });
  const pong = new Promise((resolve) => ws.once('pong', (d) => resolve(d.toString())));
  ws.ping('node ping');
  out({ test: 'ping', ok: (await pong) === 'node ping' });
  const done = closed(ws);
  ws.close(1000, 'bye');
  out({ test: 'close', ok: (await done) === 1000 });

  const huge = await open('/ws/echo');
  const hugeClosed = closed(huge);
  huge.send(Buffer.alloc(1 << 20, 7));
  out({ test: '1MiB', code: await hugeClosed });

  const st = await open('/ws/status');
  m = await next(st);
  let doc = {};
  try { doc = JSON.parse(m.data.toString()); } catch (e) {}
  out({ test: 'status', ok: typeof doc.uptime_s === 'number' && !!doc.server });
  const stClosed = closed(st);
  st.close(1001);
  out({ test: 'status-close', ok: (await stClosed) === 1001 });
})().catch((e) => { out({ test: 'fatal', error: String(e) }); process.exit(1); });
"""


def node_ready():
    if not shutil.which("node"):
        return "node is not installed"
    r = subprocess.run(["node", "-e", "require('ws')"], env={**os.environ, "NODE_PATH": NODE_PATH},
                       capture_output=True, timeout=30)
    return None if r.returncode == 0 else "node-ws is not installed (apt-get install node-ws)"


def main():
    sc.skip_unless_native("node runs on the build machine")
    why = node_ready()
    if why:
        print(why)
        sys.exit(77)
    s = sc.Statusd()
    log(f"statusd pid {s.pid} port {s.port}")
    p = subprocess.run(["node", "-e", CLIENT, "--", str(s.port)], env={**os.environ, "NODE_PATH": NODE_PATH},
                       capture_output=True, timeout=60)
    results = {}
    for line in p.stdout.decode().splitlines():
        try:
            o = json.loads(line)
        except ValueError:
            continue
        results[o.get("test")] = o
    check(p.returncode == 0, f"node client exited {p.returncode}: {p.stderr.decode()[-800:]} {results.get('fatal')}")
    for name in ("text", "binary", "fragmented", "64KiB", "ping", "close", "status", "status-close"):
        check(results.get(name, {}).get("ok") is True, f"node-ws {name}: {results.get(name)}")
    check(results.get("1MiB", {}).get("code") == 1009, f"node-ws 1 MiB message: {results.get('1MiB')}")
    ok("node-ws client against statusd")
    s.stop()


if __name__ == "__main__":
    sc.run(main, budget_s=90.0)
