"""A KServe v2 HTTP server that costs (almost) nothing: the ceiling of a client, not a server to
compare. Every model is an FP32 identity (INPUT0 -> OUTPUT0, dims [-1], max_batch_size 8, what
bench/repository-vs-triton serves). An infer request's body is read into one reused buffer and
dropped (kernel copies only); the answer is the request's shape with zero bytes from one buffer,
sent with one sendmsg. A thread per connection, keep-alive. What a client reaches against it is
what the client itself can do on its core: `bench/repository-vs-triton/run.mjs --ceiling`.

    python bench/lib/canned_infer_server.py PORT      (prints "ready PORT" when listening)
"""

from __future__ import annotations

import json
import socket
import sys
import threading

SCRATCH = 1 << 20


def metadata(name: str) -> dict:
    # Shapes carry the batch dimension (max_batch_size > 0), as Triton reports them.
    tensor = lambda n: {"name": n, "datatype": "FP32", "shape": [-1, -1]}
    return {"name": name, "versions": ["1"], "platform": "python",
            "inputs": [tensor("INPUT0")], "outputs": [tensor("OUTPUT0")]}  # fmt: skip


def config(name: str) -> dict:
    tensor = lambda n: {"name": n, "data_type": "TYPE_FP32", "dims": [-1]}
    return {
        "name": name,
        "max_batch_size": 8,
        "input": [tensor("INPUT0")],
        "output": [tensor("OUTPUT0")],
    }


def send_all(conn: socket.socket, parts: list) -> None:
    views = [memoryview(p).cast("B") for p in parts]
    while views:
        sent = conn.sendmsg(views)
        while views and sent >= len(views[0]):
            sent -= len(views[0])
            views.pop(0)
        if views:
            views[0] = views[0][sent:]


def serve(conn: socket.socket) -> None:
    scratch = memoryview(bytearray(SCRATCH))
    zeros = memoryview(bytearray(0))
    pending = b""
    with conn:
        while True:
            while b"\r\n\r\n" not in pending:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                pending += chunk
            head, _, pending = pending.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {
                k.strip().lower(): v.strip()
                for k, _, v in (line.partition(":") for line in lines[1:])
            }
            length = int(headers.get("content-length", "0"))
            json_length = int(
                headers.get("inference-header-content-length", str(length))
            )
            while len(pending) < min(length, json_length):
                pending += conn.recv(65536)
            body_head = pending[:json_length] if method == "POST" else b""
            left = length - len(pending)
            pending = pending[length:] if left <= 0 else b""
            while left > 0:  # the tensor bytes: read and dropped
                n = conn.recv_into(scratch, min(left, SCRATCH))
                if n == 0:
                    return
                left -= n
            parts = path.strip("/").split("/")
            name = parts[2] if len(parts) > 2 else ""
            if path in ("/v2/health/ready", "/v2/health/live"):
                send_all(conn, [b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"])
            elif path.endswith("/infer") and method == "POST":
                shape = json.loads(body_head)["inputs"][0]["shape"]
                size = 4
                for d in shape:
                    size *= d
                if len(zeros) < size:
                    zeros = memoryview(bytearray(size))
                answer = json.dumps({"model_name": name, "model_version": "1", "outputs": [
                    {"name": "OUTPUT0", "datatype": "FP32", "shape": shape,
                     "parameters": {"binary_data_size": size}}]}).encode()  # fmt: skip
                send_all(conn, [
                    f"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                    f"Inference-Header-Content-Length: {len(answer)}\r\n"
                    f"Content-Length: {len(answer) + size}\r\n\r\n".encode(), answer, zeros[:size]])  # fmt: skip
            else:
                body = json.dumps(
                    config(name) if path.endswith("/config") else metadata(name)
                ).encode()
                send_all(conn, [
                    f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode(),
                    body])  # fmt: skip


def main() -> None:
    srv = socket.create_server(
        ("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0), backlog=128
    )
    print(f"ready {srv.getsockname()[1]}", flush=True)
    while True:
        conn, _ = srv.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
