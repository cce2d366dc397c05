"""Client for bench/gpu/run-on-gpu.sh: checks tensorbind's `mlp` (served on cuda:0) against
direct calls of examples/python-torch/model.py's `infer` on the same GPU, then measures
requests/s over HTTP (KServe v2 JSON, keep-alive) at concurrency 1 and 4. Standard library,
numpy and torch only (no tritonclient on the device machine)."""

from __future__ import annotations

import http.client
import importlib.util
import json
import statistics
import sys
import threading
import time
from urllib.parse import urlparse

import numpy as np
import torch

with open(sys.argv[1]) as f:
    ready = json.load(f)
url = urlparse(ready["http"])
HOST, PORT = url.hostname, url.port
N_REQ = int(sys.argv[2]) if len(sys.argv) > 2 else 400


def infer(conn: http.client.HTTPConnection, x: np.ndarray) -> np.ndarray:
    body = json.dumps(
        {"inputs": [{"name": "x", "shape": list(x.shape), "datatype": "FP32", "data": x.ravel().tolist()}]}
    )
    conn.request("POST", "/v2/models/mlp/infer", body, {"Content-Type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    if r.status != 200:
        raise RuntimeError(f"HTTP {r.status}: {data[:300]!r}")
    out = {o["name"]: o for o in json.loads(data)["outputs"]}["y"]
    return np.asarray(out["data"], dtype=np.float32).reshape(out["shape"])


conn = http.client.HTTPConnection(HOST, PORT)
conn.request("GET", "/v2/models/mlp")
meta = conn.getresponse().read()
print("metadata:", meta.decode())

# direct: the same file, the same function, on the GPU, in this process
spec = importlib.util.spec_from_file_location("tb_model", "examples/python-torch/model.py")
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
rng = np.random.default_rng(1)
worst = 0.0
n_checked = 0
for batch in (1, 4, 32, 128):
    x = rng.standard_normal((batch, 8)).astype(np.float32)
    served = infer(conn, x)
    direct = mod.infer(torch.from_numpy(x).to("cuda:0"))["y"]
    assert direct.device.type == "cuda", direct.device
    d = float(np.max(np.abs(served - direct.cpu().numpy())))
    worst = max(worst, d)
    n_checked += batch
    print(f"batch {batch:4d}: served shape {list(served.shape)}, max |served - direct(cuda:0)| = {d:.3g}")
print(f"CHECK max abs diff over {n_checked} rows = {worst:.3g} -> {'OK' if worst <= 1e-5 else 'MISMATCH'}")

# direct-call rate for reference (batch 1, includes host->device copy and .cpu())
x1 = rng.standard_normal((1, 8)).astype(np.float32)
for _ in range(50):
    mod.infer(torch.from_numpy(x1).to("cuda:0"))["y"].cpu()
t0 = time.perf_counter()
for _ in range(2000):
    mod.infer(torch.from_numpy(x1).to("cuda:0"))["y"].cpu()
direct_rps = 2000 / (time.perf_counter() - t0)
print(f"DIRECT batch-1 calls in one process: {direct_rps:.0f} calls/s")


def load(concurrency: int, n: int) -> tuple[float, list[float]]:
    lats: list[float] = []
    lock = threading.Lock()
    per = n // concurrency
    x = rng.standard_normal((1, 8)).astype(np.float32)
    barrier = threading.Barrier(concurrency + 1)

    def worker() -> None:
        c = http.client.HTTPConnection(HOST, PORT)
        for _ in range(10):
            infer(c, x)
        barrier.wait()
        mine = []
        for _ in range(per):
            t = time.perf_counter()
            infer(c, x)
            mine.append(time.perf_counter() - t)
        with lock:
            lats.extend(mine)

    ts = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in ts:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in ts:
        t.join()
    return per * concurrency / (time.perf_counter() - t0), lats


print("| concurrency | requests | req/s | p50 ms | p99 ms |")
print("|---|---|---|---|---|")
for conc in (1, 4):
    for rep in range(2):
        rps, lats = load(conc, N_REQ)
        lats.sort()
        p99 = lats[int(0.99 * (len(lats) - 1))]
        print(
            f"| {conc} (run {rep + 1}) | {len(lats)} | {rps:.0f} | {statistics.median(lats) * 1e3:.2f} | {p99 * 1e3:.2f} |"
        )
sys.exit(0 if worst <= 1e-5 else 1)
