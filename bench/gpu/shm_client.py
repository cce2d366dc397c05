"""CUDA shared memory against a served tensorbind, from a PyTorch client (bench/gpu/shm.sh).

Regions are torch CUDA tensors shared by their CUDA IPC handle (what tritonclient's
cuda_shared_memory sends; that module needs cuda-python, which the device machine lacks). The
client speaks HTTP with the standard library only, so nothing but torch is needed. Checks that
results through CUDA regions equal the non-shm path (binary tensors in the body), and times a
64 MiB identity both ways.   python3 bench/gpu/shm_client.py READY_FILE
"""

from __future__ import annotations

import base64
import json
import statistics
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import torch

with open(sys.argv[1]) as f:
    HTTP = json.load(f)["http"].rstrip("/")


def post(
    path: str, body: bytes, headers: dict[str, str] | None = None
) -> tuple[bytes, dict[str, str]]:
    req = urllib.request.Request(
        HTTP + path, data=body, method="POST", headers=headers or {}
    )
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        raise RuntimeError(f"{path}: {e.code} {e.read().decode(errors='replace')}") from None


def post_json(path: str, body: dict) -> dict:
    text, _ = post(path, json.dumps(body).encode())
    return json.loads(text) if text else {}


def get_json(path: str) -> object:
    with urllib.request.urlopen(HTTP + path, timeout=30) as r:
        return json.loads(r.read())


def register(name: str, t: torch.Tensor) -> int:
    """Registers t's allocation by its IPC handle; returns t's byte offset in it."""
    s = t.untyped_storage()._share_cuda_()
    handle, offset = bytes(s[1]), int(s[3])
    # PyTorch puts a handle type (65 bytes, 2.x) and a format version (66 bytes, 2.11 on the
    # H100) before the 64-byte cudaIpcMemHandle_t.
    handle = handle[-64:]
    size = offset + t.numel() * t.element_size()
    post_json(
        f"/v2/cudasharedmemory/region/{name}/register",
        {
            "raw_handle": {"b64": base64.b64encode(handle).decode()},
            "device_id": 0,
            "byte_size": size,
        },
    )
    return offset


def infer_shm(model: str, n: int, in_off: int, out_off: int) -> dict:
    def p(region: str, offset: int) -> dict:
        return {
            "shared_memory_region": region,
            "shared_memory_byte_size": n * 4,
            "shared_memory_offset": offset,
        }

    return post_json(
        f"/v2/models/{model}/infer",
        {
            "inputs": [
                {
                    "name": "INPUT0",
                    "datatype": "FP32",
                    "shape": [n],
                    "parameters": p("in", in_off),
                }
            ],
            "outputs": [{"name": "OUTPUT0", "parameters": p("out", out_off)}],
        },
    )


def infer_body(model: str, x: np.ndarray) -> np.ndarray:
    """The non-shm path: the tensor in the body (binary extension), the result in the response."""
    head = json.dumps(
        {
            "inputs": [
                {
                    "name": "INPUT0",
                    "datatype": "FP32",
                    "shape": [x.size],
                    "parameters": {"binary_data_size": x.nbytes},
                }
            ],
            "outputs": [{"name": "OUTPUT0", "parameters": {"binary_data": True}}],
        }
    ).encode()
    body, headers = post(
        f"/v2/models/{model}/infer",
        head + x.tobytes(),
        {
            "Inference-Header-Content-Length": str(len(head)),
            "Content-Type": "application/octet-stream",
        },
    )
    hlen = int(
        {k.lower(): v for k, v in headers.items()}["inference-header-content-length"]
    )
    return np.frombuffer(body[hlen:], dtype=np.float32)


meta = get_json("/v2")
print("extensions:", meta["extensions"])
ok = "cuda_shared_memory" in meta["extensions"]
for model in ("identity", "torch_double"):
    n = 12 << 20  # 48 MiB: the caching allocator gives each tensor its own allocation
    x = torch.randn(n, device="cuda:0")
    out = torch.zeros(n, device="cuda:0")
    torch.cuda.synchronize()
    in_off, out_off = register("in", x), register("out", out)
    print("  status:", json.dumps(get_json("/v2/cudasharedmemory/status")))
    answer = infer_shm(model, n, in_off, out_off)
    torch.cuda.synchronize()
    same = np.array_equal(out.cpu().numpy(), infer_body(model, x.cpu().numpy()))
    ok &= same
    print(
        f"{model}: CUDA shm result equals the non-shm path: {same}; answer {json.dumps(answer)[:200]}"
    )
    post_json("/v2/cudasharedmemory/unregister", {})
    del x, out

# The PyTorch worker opens the client's CUDA region itself (no host staging, no arena): a model
# that adds 1 to its input in place changes the client's own tensor.
n = 1 << 20
x = torch.ones(n, device="cuda:0")
out = torch.zeros(n, device="cuda:0")
torch.cuda.synchronize()
in_off, out_off = register("in", x), register("out", out)
infer_shm("torch_in_place", n, in_off, out_off)
torch.cuda.synchronize()
in_place = bool(torch.all(x == 2)) and bool(torch.all(out == 2))
ok &= in_place
print(f"torch_in_place: the worker's input tensor is the client's CUDA memory: {in_place}")
post_json("/v2/cudasharedmemory/unregister", {})
del x, out

n = (
    16 << 20
)  # 64 MiB identity, alternating the body path and CUDA shm; client wall time
x = torch.randn(n, device="cuda:0")
out = torch.zeros(n, device="cuda:0")
torch.cuda.synchronize()
in_off, out_off = register("in", x), register("out", out)
times: dict[str, list[float]] = {
    "body (to host, HTTP, back to GPU)": [],
    "CUDA shm (HTTP)": [],
}
for _ in range(6):
    t = time.perf_counter()
    torch.from_numpy(infer_body("identity", x.cpu().numpy()).copy()).to("cuda:0")
    torch.cuda.synchronize()
    times["body (to host, HTTP, back to GPU)"].append(time.perf_counter() - t)
    t = time.perf_counter()
    infer_shm("identity", n, in_off, out_off)
    torch.cuda.synchronize()
    times["CUDA shm (HTTP)"].append(time.perf_counter() - t)
ok &= bool(torch.equal(out, x))
for k, v in times.items():
    print(
        f"64 MiB identity, {k}: median {statistics.median(v) * 1e3:.1f} ms (min {min(v) * 1e3:.1f})"
    )
post_json("/v2/cudasharedmemory/unregister", {})
print("RESULT", "ok" if ok else "MISMATCH")
sys.exit(0 if ok else 1)
