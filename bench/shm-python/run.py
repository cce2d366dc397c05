"""64 MiB identity through a Python model: HTTP with the tensor in the body vs the system
shared-memory extension (input and output in the client's regions), side by side in one run.

    .venv/bin/python bench/shm-python/run.py [--mib 64] [--rounds 10]

One server; the two ways alternate request by request, so both see the same machine load.
Each request's time is the client's wall time for the whole round trip, including the client's
own work: serializing the body (HTTP), or copying the input into its region (shared memory).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import tritonclient.http as httpclient
import tritonclient.utils.shared_memory as shm

ROOT = Path(__file__).resolve().parents[2]


def start_server(tmp: Path, body_limit: int) -> tuple[subprocess.Popen, str]:
    ready = tmp / "ready.json"
    cmd = ["node", "bin/tensorbind.js", "serve", "bench/shm-python/models.ts", "--http-port", "0",
           "--grpc-port", "0", "--metrics-port", "0", "--ready-file", str(ready),
           "--max-body-bytes", str(body_limit), "--shm-extension", "system", "--log-level", "warn"]  # fmt: skip
    env = {
        **os.environ,
        "TENSORBIND_PYTHON": os.environ.get("TENSORBIND_PYTHON", sys.executable),
    }
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if ready.exists():
            try:
                return proc, json.loads(ready.read_text())["http"].removeprefix(
                    "http://"
                )
            except json.JSONDecodeError:
                pass
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("the server did not start")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=10)
    args = ap.parse_args()
    n = args.mib * (1 << 20) // 4
    x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_server(Path(tmp), 2 * x.nbytes + (1 << 20))
        client = httpclient.InferenceServerClient(
            url, connection_timeout=300, network_timeout=300
        )
        key_in, key_out = (
            f"/bench-in-{uuid.uuid4().hex[:8]}",
            f"/bench-out-{uuid.uuid4().hex[:8]}",
        )
        h_in = shm.create_shared_memory_region("in", key_in, x.nbytes)
        h_out = shm.create_shared_memory_region("out", key_out, x.nbytes)
        try:
            client.register_system_shared_memory("in", key_in, x.nbytes)
            client.register_system_shared_memory("out", key_out, x.nbytes)

            def body() -> float:
                t = time.perf_counter()
                i = httpclient.InferInput("INPUT0", [n], "FP32")
                i.set_data_from_numpy(x, binary_data=True)
                o = httpclient.InferRequestedOutput("OUTPUT0", binary_data=True)
                y = client.infer("py_identity", [i], outputs=[o]).as_numpy("OUTPUT0")
                dt = time.perf_counter() - t
                assert y is not None and y.shape == x.shape and y[-1] == x[-1]
                return dt

            def regions() -> float:
                t = time.perf_counter()
                shm.set_shared_memory_region(h_in, [x])
                i = httpclient.InferInput("INPUT0", [n], "FP32")
                i.set_shared_memory("in", x.nbytes)
                o = httpclient.InferRequestedOutput("OUTPUT0")
                o.set_shared_memory("out", x.nbytes)
                client.infer("py_identity", [i], outputs=[o])
                y = shm.get_contents_as_numpy(h_out, np.float32, [n])
                dt = time.perf_counter() - t
                assert y[-1] == x[-1]
                return dt

            body(), regions()  # warm-up: worker start, first mappings
            times: dict[str, list[float]] = {"http body": [], "system shm": []}
            for _ in range(args.rounds):
                times["http body"].append(body())
                times["system shm"].append(regions())
            med = {k: statistics.median(v) for k, v in times.items()}
            for k, v in times.items():
                print(
                    f"{k:11s} median {med[k] * 1e3:8.1f} ms  (min {min(v) * 1e3:.1f}, max {max(v) * 1e3:.1f})"
                )
            print(
                f"ratio http/shm (median): {med['http body'] / med['system shm']:.1f}x  [{args.mib} MiB, {args.rounds} rounds]"
            )
            client.unregister_system_shared_memory()
        finally:
            shm.destroy_shared_memory_region(h_in)
            shm.destroy_shared_memory_region(h_out)
            client.close()
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
