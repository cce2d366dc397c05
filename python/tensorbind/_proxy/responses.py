"""A decoupled model's responses: any number per request, sent from any thread.

The server gives each request of a decoupled model a stream id (``streams`` in the call, one
per request). A model answers through ``request.get_response_sender()``; every response goes to
the server in a ``responses`` message (docs/DATA_PLANE.md) as soon as it is sent:

- from the thread running the call, right away;
- from another thread, through a queue the main loop drains: the worker's socket and arena are
  only ever touched by the main thread, which a pipe wakes while it waits for the server.

Outputs are written into the worker's arena like a call's, one slot per response, released by
the server once the response is on the wire.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections import deque
from typing import TYPE_CHECKING, Any

import zmq

from tensorbind._proxy.codec import encode_outputs

if TYPE_CHECKING:
    from tensorbind._proxy.main import Worker

log = logging.getLogger("tensorbind.worker")

FINAL = 1  # TRITONSERVER_RESPONSE_COMPLETE_FINAL


class ResponseOutbox:
    def __init__(self, worker: Worker, data: Any) -> None:
        self.worker = worker
        self.data = data  # the worker's data socket (or its ZeroMQ socket): send_json, recv_json
        self.main = threading.get_ident()
        self.queue: deque[tuple[int, Any, int, list[str]]] = deque()
        self.lock = threading.RLock()  # re-entered when a sender's finalizer runs inside a send
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        # Polls the ZeroMQ socket, or the descriptor under a DataSocket (whose buffer is checked
        # first); the poller answers a descriptor as the int it registered.
        self.target: Any = data if isinstance(data, zmq.Socket) else data.sock.fileno()
        self.poller = zmq.Poller()
        self.poller.register(self.target, zmq.POLLIN)
        self.poller.register(self.wake_r, zmq.POLLIN)
        #: set once a call of a decoupled model came: the main loop then waits through wait()
        self.active = False
        #: the stream id of each request of the call running now (None: not decoupled)
        self.streams: list[int] | None = None
        #: streams the server says the client cancelled
        self.cancelled: set[int] = set()

    def submit(self, stream: int, response: Any, flags: int, requested: list[str]) -> None:
        """Sends one response of `stream` (any thread); `response` None with FINAL: the flag alone."""
        if threading.get_ident() == self.main:
            self.flush()  # other threads' earlier responses first
            self._send([(stream, response, flags, requested)])
            return
        self.defer(stream, response, flags, requested)

    def defer(self, stream: int, response: Any, flags: int, requested: list[str] | None = None) -> None:
        """Queues a response for the main loop, from any thread (a finalizer may run inside a send)."""
        with self.lock:
            self.queue.append((stream, response, flags, requested or []))
        with contextlib.suppress(BlockingIOError):  # a full pipe already wakes the loop
            os.write(self.wake_w, b"\0")

    def flush(self) -> None:
        """Sends what other threads queued (main thread only)."""
        if not self.queue:  # an append after this check also wakes the loop
            return
        items = []
        with self.lock:  # popped one by one: a finalizer may queue more meanwhile
            while self.queue:
                items.append(self.queue.popleft())
        self._send(items)

    def wait(self, timeout_ms: int | None) -> bool:
        """Waits for a message from the server, sending queued responses meanwhile; False on timeout."""
        while True:
            if self._buffered():
                return True
            ready = dict(self.poller.poll(timeout_ms))
            if self.wake_r in ready:
                with contextlib.suppress(BlockingIOError):
                    while os.read(self.wake_r, 4096):
                        pass
                self.flush()
            if self.target in ready:
                return True
            if not ready:
                return False

    def _buffered(self) -> bool:
        """Whether a DataSocket already holds a whole frame (its socket may have nothing more)."""
        buf = getattr(self.data, "buf", None)
        return buf is not None and len(buf) >= 4 and len(buf) >= 4 + int.from_bytes(buf[:4], "little")

    def _send(self, items: list[tuple[int, Any, int, list[str]]]) -> None:
        described = [self._describe(*item) for item in items]
        segments = self.worker.outputs.announce
        self.worker.outputs.announce = []
        self.data.send_json({"type": "responses", "segments": segments, "responses": described})

    def _describe(self, stream: int, response: Any, flags: int, requested: list[str]) -> dict[str, Any]:
        head: dict[str, Any] = {"stream": stream, "final": bool(flags & FINAL)}
        if flags & FINAL:
            self.cancelled.discard(stream)
        if response is None:
            return head
        if response.has_error():
            return {**head, "error": response.error().message()}
        tensors = {t.name(): t.as_numpy() for t in response.output_tensors()}
        if requested:  # Triton prunes a response to the request's outputs
            tensors = {k: v for k, v in tensors.items() if k in requested}
        try:
            return {
                **head,
                **encode_outputs(
                    tensors, None, self.worker.info.outputs if self.worker.info else None, self.worker.outputs
                ),
            }
        except Exception as exc:  # e.g. no shared memory left: this response fails, not the worker
            log.warning("response of stream %d not sent: %s", stream, exc)
            return {**head, "error": f"{type(exc).__name__}: {exc}"}

    def close(self) -> None:
        for fd in (self.wake_r, self.wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)


OUTBOX: ResponseOutbox | None = None


def install(outbox: ResponseOutbox) -> None:
    global OUTBOX
    OUTBOX = outbox


def current_streams() -> list[int] | None:
    """The stream ids of the requests of the call running now (a decoupled model's)."""
    return OUTBOX.streams if OUTBOX is not None else None
