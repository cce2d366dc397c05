"""The worker's half of bench/worker-hop: answers each message like the worker answers an infer.

    python peer.py zmq ENDPOINT        pyzmq PAIR, JSON frames (the present path)
    python peer.py uds PATH            a Unix-domain socket, u32-LE length + JSON frames
    python peer.py futex-py            both ends in Python over a shared-memory ring with a futex
                                       doorbell (no Node): the floor of a cross-process hop here
"""

from __future__ import annotations

import json
import socket
import struct
import sys
import time

REPLY = {
    "type": "result",
    "segments": [],
    "results": [
        {
            "ok": True,
            "slot": [0, 4096],
            "outputs": [
                {"name": "OUTPUT0", "datatype": "FP32", "shape": [1, 1024], "segment": 0, "offset": 4096, "length": 4096}
            ],
        }
    ],
}


def answer(msg: dict) -> dict | None:
    if msg.get("type") != "infer":
        return None
    return {**REPLY, "id": msg["id"]}


def run_zmq(endpoint: str) -> None:
    import zmq

    sock = zmq.Context.instance().socket(zmq.PAIR)
    sock.connect(endpoint)
    sock.send_json({"type": "hello"})
    while True:
        msg = sock.recv_json()
        if msg.get("type") == "stop":
            return
        reply = answer(msg)
        if reply is not None:
            sock.send_json(reply)


def run_uds(path: str) -> None:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    head = struct.Struct("<I")
    buf = bytearray()

    def send(obj: dict) -> None:
        body = json.dumps(obj, separators=(",", ":")).encode()
        s.sendall(head.pack(len(body)) + body)

    send({"type": "hello"})
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return
        buf += chunk
        while len(buf) >= 4:
            (n,) = head.unpack_from(buf)
            if len(buf) < 4 + n:
                break
            msg = json.loads(buf[4 : 4 + n])
            del buf[: 4 + n]
            if msg.get("type") == "stop":
                return
            reply = answer(msg)
            if reply is not None:
                send(reply)


def run_futex_py(seconds: float) -> None:
    """Two Python processes, a shared int per direction, FUTEX_WAIT/WAKE through libc syscall()."""
    import ctypes
    import mmap
    import os

    libc = ctypes.CDLL(None, use_errno=True)
    SYS_futex = 202  # x86-64
    WAIT, WAKE = 0, 1
    m = mmap.mmap(-1, 4096)
    base = ctypes.addressof(ctypes.c_char.from_buffer(m))
    a = ctypes.c_int.from_address(base)
    b = ctypes.c_int.from_address(base + 64)

    def wait(word: ctypes.c_int, addr: int, old: int) -> None:
        while word.value == old:
            libc.syscall(SYS_futex, ctypes.c_void_p(addr), WAIT, old, None, None, 0)

    def wake(word: ctypes.c_int, addr: int) -> None:
        word.value += 1
        libc.syscall(SYS_futex, ctypes.c_void_p(addr), WAKE, 1, None, None, 0)

    msg = json.dumps({"type": "infer", "id": 1}).encode()
    pid = os.fork()
    if pid == 0:
        seen = 0
        while True:
            wait(a, base, seen)
            seen = a.value
            if seen < 0:
                os._exit(0)
            json.loads(msg)  # the same decode and encode work per message
            json.dumps(REPLY)
            wake(b, base + 64)
    n = 0
    seen = 0
    end = time.perf_counter() + seconds
    t0 = time.perf_counter()
    while time.perf_counter() < end:
        json.dumps({"type": "infer", "id": n})
        wake(a, base)
        wait(b, base + 64, seen)
        seen = b.value
        json.loads(msg)
        n += 1
    dt = time.perf_counter() - t0
    a.value = -10
    libc.syscall(SYS_futex, ctypes.c_void_p(base), WAKE, 1, None, None, 0)
    os.waitpid(pid, 0)
    print(json.dumps({"roundTrips": n, "seconds": dt}))


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "zmq":
        run_zmq(sys.argv[2])
    elif mode == "uds":
        run_uds(sys.argv[2])
    elif mode == "futex-py":
        run_futex_py(float(sys.argv[2]))
    else:
        raise SystemExit(f"unknown mode {mode}")
