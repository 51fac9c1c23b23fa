"""tornado_hello: the Tornado 6 peer of `make bench` (Debian's python3-tornado).

    python3 tests/bench/tornado_hello.py PORT   (0 picks one)

Serves GET /hello -> "Hello, world!" with a plain RequestHandler, one process,
and prints "tornado_hello listening on port N" once it accepts connections.
Exits 0 on SIGTERM or SIGINT."""
import asyncio
import signal
import sys

import tornado.httpserver
import tornado.netutil
import tornado.web


class Hello(tornado.web.RequestHandler):
    def get(self):
        self.set_header("Content-Type", "text/plain")
        self.write("Hello, world!")


async def main(port):
    app = tornado.web.Application([("/hello", Hello)])
    socks = tornado.netutil.bind_sockets(port, "127.0.0.1", backlog=4096)
    server = tornado.httpserver.HTTPServer(app)
    server.add_sockets(socks)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, stop.set)
    print(f"tornado_hello listening on port {socks[0].getsockname()[1]}", flush=True)
    await stop.wait()
    server.stop()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
