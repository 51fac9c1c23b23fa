"""A small RFC 6455 client over a raw socket, for the WebSocket tests (not a test itself).

It can send what a correct client sends and also what a broken one does
(unmasked frames, reserved bits, bad opcodes, oversized control frames), and
reads frames exactly as the server wrote them. Every read is bounded by a
deadline. Standard library only.
"""

import base64
import hashlib
import os
import socket
import struct
import time

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Closed(Exception):
    pass


def accept_for(key):
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


class WsClient:
    def __init__(self, port, path="/ws/echo", host="127.0.0.1", timeout=10.0, headers=None, connect=True):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buf = bytearray()
        self.status = None
        self.head = b""
        if connect:
            self.handshake(path, host, port, headers)

    def handshake(self, path, host, port, headers=None, key=None):
        self.key = key or base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Upgrade: websocket", "Connection: Upgrade",
                 f"Sec-WebSocket-Key: {self.key}", "Sec-WebSocket-Version: 13"]
        lines += [f"{k}: {v}" for k, v in (headers or [])]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.head = self._read_until(b"\r\n\r\n")
        self.status = int(self.head.split(b" ", 2)[1])
        return self.status

    def header(self, name):
        for line in self.head.decode("latin-1").split("\r\n")[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                if k.strip().lower() == name.lower():
                    return v.strip()
        return None

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("deadline passed")
        self.sock.settimeout(left)
        try:
            d = self.sock.recv(1 << 20)
        except ConnectionResetError:
            d = b""
        if not d:
            raise Closed("connection closed")
        self.buf += d

    def _read_until(self, marker):
        deadline = time.monotonic() + self.timeout
        while marker not in self.buf:
            self._fill(deadline)
        i = self.buf.index(marker) + len(marker)
        out = bytes(self.buf[:i])
        del self.buf[:i]
        return out

    def _read_exact(self, n, deadline):
        while len(self.buf) < n:
            self._fill(deadline)
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    @staticmethod
    def frame(opcode, payload=b"", fin=True, mask=True, rsv=0, length=None):
        if isinstance(payload, str):
            payload = payload.encode()
        n = len(payload) if length is None else length
        b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
        m = 0x80 if mask else 0
        if n < 126:
            head = struct.pack("!BB", b0, m | n)
        elif n <= 0xFFFF:
            head = struct.pack("!BBH", b0, m | 126, n)
        else:
            head = struct.pack("!BBQ", b0, m | 127, n)
        if not mask:
            return head + payload
        key = os.urandom(4)
        # XOR through integers: fast enough for a few MiB.
        k = int.from_bytes((key * (len(payload) // 4 + 1))[:len(payload)], "big")
        body = (int.from_bytes(payload, "big") ^ k).to_bytes(len(payload), "big") if payload else b""
        return head + key + body

    def send_frame(self, opcode, payload=b"", **kw):
        self.sock.sendall(self.frame(opcode, payload, **kw))

    def send_text(self, text):
        self.send_frame(0x1, text.encode())

    def send_binary(self, data):
        self.send_frame(0x2, data)

    def recv_frame(self, timeout=None):
        """(fin, opcode, payload) of the next frame; raises Closed at end of stream."""
        deadline = time.monotonic() + (timeout or self.timeout)
        b0, b1 = self._read_exact(2, deadline)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._read_exact(2, deadline))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read_exact(8, deadline))[0]
        if b1 & 0x80:
            raise AssertionError("the server sent a masked frame")
        return bool(b0 & 0x80), b0 & 0x0F, self._read_exact(n, deadline)

    def recv_message(self, timeout=None):
        """(opcode, payload) of the next data message, answering nothing; control frames are returned too."""
        fin, op, data = self.recv_frame(timeout)
        return op, data

    def expect_close(self, timeout=None):
        """Reads frames until a close; returns its code (None for an empty close)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            fin, op, data = self.recv_frame(max(0.01, deadline - time.monotonic()))
            if op == 0x8:
                return struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None

    def closed_by_server(self, timeout=3.0):
        """True when the server ends the TCP connection within timeout (after any frames)."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self._fill(deadline)
                self.buf.clear()
        except Closed:
            return True
        except (socket.timeout, TimeoutError):
            return False

    def close(self, code=1000):
        try:
            self.send_frame(0x8, struct.pack("!H", code))
        except OSError:
            pass

    def shutdown(self):
        try:
            self.sock.close()
        except OSError:
            pass
