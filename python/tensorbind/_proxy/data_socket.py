"""The worker's end of its data socket (src/backends/python/data-socket.ts).

A Unix-domain stream socket to the server carrying the messages that go with requests
(batches, results, slot releases, segment announcements, BLS calls): each frame is a u32
little-endian byte count and that many bytes of UTF-8 JSON. It offers the part of a pyzmq
socket the worker uses (``send_json``, ``recv_json``, ``poll``), so the main loop and the BLS
client run over either. A read that sees the server's end closed raises ``PeerClosed``.
"""

from __future__ import annotations

import json
import select
import socket
import struct
from typing import Any

_HEADER = struct.Struct("<I")
_READ = 1 << 16


class PeerClosed(BaseException):
    """The server closed the data socket (it stopped or died).

    A BaseException, like SystemExit: a model's ``except Exception`` around a BLS call must not
    swallow the end of the worker.
    """


class DataSocket:
    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.buf = bytearray()
        self.encoder = json.JSONEncoder(separators=(",", ":"))

    def send_json(self, obj: Any) -> None:
        body = self.encoder.encode(obj).encode()
        try:
            self.sock.sendall(_HEADER.pack(len(body)) + body)
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise PeerClosed("the server closed the data socket") from exc

    def _frame(self) -> Any | None:
        """The next complete frame in the buffer, decoded; None when there is none yet."""
        if len(self.buf) < 4:
            return None
        (n,) = _HEADER.unpack_from(self.buf)
        if len(self.buf) < 4 + n:
            return None
        msg = json.loads(self.buf[4 : 4 + n])
        del self.buf[: 4 + n]
        return msg

    def recv_json(self) -> Any:
        while True:
            msg = self._frame()
            if msg is not None:
                return msg
            try:
                chunk = self.sock.recv(_READ)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                raise PeerClosed("the server closed the data socket")
            self.buf += chunk

    def poll(self, timeout_ms: int) -> bool:
        """True when a frame can be read without blocking (or the server's end closed)."""
        if len(self.buf) >= 4 and len(self.buf) >= 4 + _HEADER.unpack_from(self.buf)[0]:
            return True
        ready, _, _ = select.select([self.sock], [], [], timeout_ms / 1000)
        return bool(ready)

    def close(self, linger: int = 0) -> None:
        self.sock.close()
