"""CUDA shared memory against a served tensorbind, from a PyTorch client (bench/gpu/shm.sh).

Regions are torch CUDA tensors shared by their CUDA IPC handle (what tritonclient's
cuda_shared_memory sends; that module needs cuda-python, which the device machine lacks).
Checks that results through CUDA regions equal the non-shm path over HTTP and gRPC, and times
a 64 MiB identity both ways.   python3 bench/gpu/shm_client.py READY_FILE
"""

from __future__ import annotations

import base64
import json
import statistics
import sys
import time
import urllib.request

import numpy as np
import torch
import tritonclient.grpc as grpcclient

with open(sys.argv[1]) as f:
    ready = json.load(f)
HTTP = ready["http"].rstrip("/")
g = grpcclient.InferenceServerClient(ready["grpc"])


def post(path: str, body: dict) -> dict:
    req = urllib.request.Request(
        HTTP + path, data=json.dumps(body).encode(), method="POST"
    )
    with urllib.request.urlopen(req, timeout=120) as r:
        text = r.read()
    return json.loads(text) if text else {}


def share(t: torch.Tensor) -> tuple[bytes, int, int]:
    """(IPC handle of t's allocation, t's byte offset in it, bytes to register)."""
    s = t.untyped_storage()._share_cuda_()
    handle, offset = bytes(s[1]), int(s[3])
    return handle, offset, offset + t.numel() * t.element_size()


def register(name: str, t: torch.Tensor, proto: str) -> int:
    handle, offset, size = share(t)
    if proto == "http":
        post(f"/v2/cudasharedmemory/region/{name}/register",
             {"raw_handle": {"b64": base64.b64encode(handle).decode()}, "device_id": 0, "byte_size": size})  # fmt: skip
    else:
        g.register_cuda_shared_memory(name, handle, 0, size)
    return offset


def infer_http(model: str, n: int, in_off: int, out_off: int) -> dict:
    p = lambda r, o: {
        "shared_memory_region": r,
        "shared_memory_byte_size": n * 4,
        "shared_memory_offset": o,
    }
    return post(f"/v2/models/{model}/infer", {
        "inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [n], "parameters": p("in", in_off)}],
        "outputs": [{"name": "OUTPUT0", "parameters": p("out", out_off)}],
    })  # fmt: skip


def infer_grpc(model: str, n: int, in_off: int, out_off: int) -> None:
    i = grpcclient.InferInput("INPUT0", [n], "FP32")
    i.set_shared_memory("in", n * 4, offset=in_off)
    o = grpcclient.InferRequestedOutput("OUTPUT0")
    o.set_shared_memory("out", n * 4, offset=out_off)
    g.infer(model, [i], outputs=[o])


def plain(model: str, x: np.ndarray) -> np.ndarray:
    i = grpcclient.InferInput("INPUT0", list(x.shape), "FP32")
    i.set_data_from_numpy(x)
    return g.infer(model, [i]).as_numpy("OUTPUT0")


meta = g.get_server_metadata(as_json=True)
print("extensions:", meta["extensions"])
assert "cuda_shared_memory" in meta["extensions"], (
    "the server should list cuda_shared_memory on a GPU node"
)
ok = True
for proto in ("http", "grpc"):
    for model in ("identity", "torch_double"):
        n = (
            12 << 20
        )  # 48 MiB: the caching allocator gives each tensor its own allocation
        x = torch.randn(n, device="cuda:0")
        out = torch.zeros(n, device="cuda:0")
        torch.cuda.synchronize()
        in_off, out_off = register("in", x, proto), register("out", out, proto)
        (infer_http if proto == "http" else infer_grpc)(model, n, in_off, out_off)
        torch.cuda.synchronize()
        ref = plain(model, x.cpu().numpy())
        same = np.array_equal(out.cpu().numpy(), ref)
        ok &= same
        print(f"{proto} {model}: CUDA shm result equals the non-shm path: {same}")
        status = g.get_cuda_shared_memory_status(as_json=True)
        print("  status:", json.dumps(status))
        g.unregister_cuda_shared_memory()

# 64 MiB identity, alternating non-shm (gRPC body) and CUDA shm (gRPC), client wall time
n = 16 << 20
x = torch.randn(n, device="cuda:0")
out = torch.zeros(n, device="cuda:0")
in_off, out_off = register("in", x, "grpc"), register("out", out, "grpc")
times: dict[str, list[float]] = {
    "body (copy to host + gRPC)": [],
    "CUDA shm (gRPC)": [],
}
for _ in range(6):
    t = time.perf_counter()
    y = plain("identity", x.cpu().numpy())
    torch.from_numpy(y).to("cuda:0")
    torch.cuda.synchronize()
    times["body (copy to host + gRPC)"].append(time.perf_counter() - t)
    t = time.perf_counter()
    infer_grpc("identity", n, in_off, out_off)
    torch.cuda.synchronize()
    times["CUDA shm (gRPC)"].append(time.perf_counter() - t)
ok &= bool(torch.equal(out, x))
for k, v in times.items():
    print(
        f"64 MiB identity, {k}: median {statistics.median(v) * 1e3:.1f} ms (min {min(v) * 1e3:.1f})"
    )
g.unregister_cuda_shared_memory()
print("RESULT", "ok" if ok else "MISMATCH")
sys.exit(0 if ok else 1)
