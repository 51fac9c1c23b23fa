#!/usr/bin/env python3
"""gust's WebSocket client (through the wscat example) against statusd (ws://
echo and status feed, wss:// on --https with its self-signed certificate, a
refused upgrade) and against a node-ws server (subprotocol choice, fragmented
messages, pings it must answer, the server's close code). The node part is
skipped where node or node-ws is missing."""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import statusd_common as sc  # noqa: E402
from statusd_common import check, log, ok, require  # noqa: E402

NODE_PATH = "/usr/share/nodejs:/usr/lib/nodejs"

SERVER = r"""
const { WebSocketServer } = require('ws');
const wss = new WebSocketServer({
  host: '127.0.0.1', port: 0,
  handleProtocols: (protocols) => (protocols.has('chat.v1') ? 'chat.v1' : false),
});
wss.on('listening', () => console.log('port ' + wss.address().port));
wss.on('connection', (ws, req) => {
  let pongs = 0;
  ws.on('pong', () => { pongs++; });
  ws.on('message', (data, isBinary) => {
    const text = data.toString();
    if (text === 'fragments') {
      ws.send('one ', { fin: false });
      ws.send('two ', { fin: false });
      ws.send('three', { fin: true });
    } else if (text === 'ping me') {
      ws.ping('p');
      setTimeout(() => ws.send('pongs ' + pongs), 200);
    } else if (text === 'bye') {
      ws.close(4001, 'server says bye');
    } else {
      ws.send('echo:' + (isBinary ? 'bin:' : '') + text + ':' + (ws.protocol || '-'));
    }
  });
});
"""


def wscat(*args, timeout=30):
    exe = os.path.join(sc.build_dir(), "wscat")
    require(os.path.exists(exe), f"no {exe}: build it with make")
    p = subprocess.run(sc.runner() + [exe, *args], stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def localhost_cert(d):
    """A self-signed certificate for localhost (openssl), as (cert, key)."""
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost"], check=True, capture_output=True, timeout=60)
    return cert, key


def against_statusd():
    d = tempfile.mkdtemp(prefix="wscat-tls-")
    cert, key = localhost_cert(d)
    s = sc.Statusd(["--https", f"{sc.HOST}:0", "--cert", cert, "--key", key])
    url = f"ws://{sc.HOST}:{s.port}"
    rc, out, err = wscat(url + "/ws/echo", "--send", "hello", "--send", "gr\u00fc\u00dfe")
    check(rc == 0 and out == "hello\ngr\u00fc\u00dfe\n", f"echo: rc {rc} out {out!r} err {err!r}")
    rc, out, err = wscat(url + "/ws/echo", "--binary", "--send", "AB")
    check(rc == 0 and out == "4142\n", f"binary echo: rc {rc} out {out!r} err {err!r}")
    rc, out, err = wscat(url + "/ws/status", "--count", "2")
    lines = out.splitlines()
    check(rc == 0 and len(lines) == 2 and all('"uptime_s"' in l for l in lines), f"status feed: rc {rc} {out[:200]!r}")
    rc, out, err = wscat(url + "/hello")
    check(rc == 1 and "status 200" in err, f"a route that does not upgrade: rc {rc} err {err!r}")
    rc, out, err = wscat(url + "/ws/echo", "--origin", "http://evil.example", "--send", "x")
    check(rc == 1 and "status 403" in err, f"cross-site origin refused: rc {rc} err {err!r}")
    wss = f"wss://localhost:{s.tls_port}/ws/echo"
    rc, out, err = wscat(wss, "--cacert", cert, "--send", "over TLS")
    check(rc == 0 and out == "over TLS\n", f"wss echo: rc {rc} out {out!r} err {err!r}")
    rc, out, err = wscat(wss, "--send", "x")  # the system's trust store does not know it
    check(rc == 1 and "status 0" in err, f"wss with an unknown certificate must fail: rc {rc} err {err!r}")
    s.stop()
    shutil.rmtree(d, ignore_errors=True)
    ok("client against statusd: ws://, wss://, refusals")


def against_node():
    if sc.runner():
        log("  (node-ws server part skipped on a cross board)")
        return
    if not shutil.which("node") or subprocess.run(["node", "-e", "require('ws')"], capture_output=True,
                                                  env={**os.environ, "NODE_PATH": NODE_PATH}).returncode != 0:
        log("  (node-ws server part skipped: node or node-ws missing)")
        return
    srv = subprocess.Popen(["node", "-e", SERVER], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env={**os.environ, "NODE_PATH": NODE_PATH})
    try:
        line = b""
        deadline = time.monotonic() + 15
        while b"\n" not in line and time.monotonic() < deadline:
            line += srv.stdout.read(1) or b""
        require(line.startswith(b"port "), f"node-ws server did not start: {line!r}")
        url = f"ws://{sc.HOST}:{int(line.split()[1])}/any"
        rc, out, err = wscat(url, "--subprotocol", "mqtt, chat.v1", "--send", "hi")
        check(rc == 0 and out == "echo:hi:chat.v1\n", f"subprotocol chosen by node-ws: rc {rc} {out!r} {err!r}")
        check("subprotocol chat.v1" in err, f"the client reports the subprotocol: {err!r}")
        rc, out, err = wscat(url, "--send", "fragments", "--send", "ping me")
        check(rc == 0 and out == "one two three\npongs 1\n", f"fragments joined, ping answered: rc {rc} {out!r} {err!r}")
        rc, out, err = wscat(url, "--binary", "--send", "raw")
        check(rc == 0 and out == "echo:bin:raw:-\n", f"binary to node: rc {rc} {out!r}")
        rc, out, err = wscat(url, "--send", "bye", "--count", "1")
        check(rc == 0 and "closed by the server with 4001" in err, f"server close code: rc {rc} {err!r}")
        ok("client against a node-ws server")
    finally:
        srv.terminate()
        try:
            srv.wait(5)
        except subprocess.TimeoutExpired:
            srv.kill()


def main():
    against_statusd()
    against_node()


if __name__ == "__main__":
    sc.run(main, budget_s=120.0)
