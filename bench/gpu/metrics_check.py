"""Checker for bench/gpu/metrics.sh: scrapes tensorbind's /metrics while the GPU idles and
while it is loaded (a PyTorch matmul loop in a child process, plus inference requests to the
`mlp` model), and compares the nv_gpu_* series with nvidia-smi's own readings.
Standard library only in this process (the load runs in a subprocess with torch).

    python3 bench/gpu/metrics_check.py READY_JSON OUT_DIR
"""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

ready = json.loads(Path(sys.argv[1]).read_text())
out = Path(sys.argv[2])
METRICS = ready["metrics"]
HTTP = urlparse(ready["http"])

LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
LABEL = re.compile(r'([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"')
# perf_analyzer's own parser: exactly one label and a plain decimal number.
PA = r'\n{name}\{{gpu_uuid="([^"]+)"\}} (\d+\.?\d*)'

checks: list[dict] = []


def check(name: str, ok: bool, detail: object = "") -> None:
    checks.append({"check": name, "ok": bool(ok), "detail": detail})
    print(f"{'PASS' if ok else 'FAIL'}  {name}  {detail}")


def scrape() -> tuple[str, dict]:
    text = urllib.request.urlopen(METRICS, timeout=10).read().decode()
    samples: dict = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = LINE.match(line)
        if m:
            labels = tuple(sorted(LABEL.findall(m.group(2) or "")))
            samples[(m.group(1), labels)] = float(m.group(3))
    return text, samples


def gpu(samples: dict, name: str) -> dict[str, float]:
    return {dict(k[1])["gpu_uuid"]: v for k, v in samples.items() if k[0] == name}


def smi() -> list[dict]:
    q = "uuid,utilization.gpu,memory.total,memory.used,power.draw,power.limit"
    rows = subprocess.run(
        ["nvidia-smi", f"--query-gpu={q}", "--format=csv,noheader,nounits"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    keys = q.split(",")
    return [
        dict(zip(keys, (f.strip() for f in r.split(",")), strict=True))
        for r in rows.strip().splitlines()
    ]


def infer(conn: http.client.HTTPConnection, rows: int) -> bool:
    body = json.dumps(
        {
            "inputs": [
                {
                    "name": "x",
                    "shape": [rows, 8],
                    "datatype": "FP32",
                    "data": [0.5] * (rows * 8),
                }
            ]
        }
    )
    conn.request(
        "POST", "/v2/models/mlp/infer", body, {"Content-Type": "application/json"}
    )
    r = conn.getresponse()
    r.read()
    return r.status == 200


# ---- idle ----
time.sleep(1.5)  # a few sampling intervals after start-up
idle_text, idle = scrape()
(out / "metrics-idle.txt").write_text(idle_text)
smi_idle = smi()
uuids = [g["uuid"] for g in smi_idle]
check("nvidia-smi lists GPUs", len(uuids) > 0, uuids)
for name in (
    "nv_gpu_utilization",
    "nv_gpu_memory_total_bytes",
    "nv_gpu_memory_used_bytes",
    "nv_gpu_power_usage",
):
    check(
        f"{name}: one series per GPU, by gpu_uuid",
        sorted(gpu(idle, name)) == sorted(uuids),
        gpu(idle, name),
    )
    found = re.findall(PA.format(name=name), idle_text)
    check(
        f"{name}: perf_analyzer's parser reads every GPU",
        sorted(u for u, _ in found) == sorted(uuids),
        found,
    )
total = gpu(idle, "nv_gpu_memory_total_bytes")
for g in smi_idle:
    check(
        f"memory total of {g['uuid']} matches nvidia-smi",
        total.get(g["uuid"]) == float(g["memory.total"]) * 2**20,
        (total.get(g["uuid"]), g["memory.total"]),
    )
for name in (
    "nv_cpu_utilization",
    "nv_cpu_memory_total_bytes",
    "nv_cpu_memory_used_bytes",
):
    check(f"{name} present", (name, ()) in idle, idle.get((name, ())))

# ---- load: a matmul loop on cuda:0 in a child, and inference requests from threads ----
LOAD = """
import time, torch
x = torch.randn(8192, 8192, device="cuda:0"); keep = [torch.empty(2 * 2**30, dtype=torch.uint8, device="cuda:0")]
y = x @ x; torch.cuda.synchronize()
print("ready", flush=True)
end = time.time() + 15
while time.time() < end:
    y = x @ x
    torch.cuda.synchronize()
print("load done", flush=True)
"""
load = subprocess.Popen([sys.executable, "-c", LOAD], stdout=subprocess.PIPE, text=True)
# torch's import and CUDA start-up take seconds: scrape only once the GPU is busy.
first = load.stdout.readline().strip() if load.stdout else ""
check("GPU load started (torch matmul loop on cuda:0)", first == "ready", first)
sent = {"ok": 0, "fail": 0}
stop = threading.Event()


def client() -> None:
    conn = http.client.HTTPConnection(HTTP.hostname, HTTP.port, timeout=30)
    while not stop.is_set():
        if infer(conn, 32):
            sent["ok"] += 1
        else:
            sent["fail"] += 1


before_text, before = scrape()
threads = [threading.Thread(target=client) for _ in range(4)]
for t in threads:
    t.start()
best = (-1.0, "", {})
smi_load = []
t_end = time.time() + 12
while time.time() < t_end:
    time.sleep(0.5)
    text, s = scrape()
    u = max(gpu(s, "nv_gpu_utilization").values(), default=-1.0)
    if u > best[0]:
        best = (u, text, s)
        smi_load = smi()
stop.set()
for t in threads:
    t.join()
if load.stdout:
    print(load.stdout.read().strip())
load.wait(timeout=60)
time.sleep(1.0)
after_text, after = scrape()
(out / "metrics-load.txt").write_text(best[1])
(out / "metrics-after.txt").write_text(after_text)
load_util, _, loaded = best
print("nvidia-smi under load:", smi_load)
check("GPU utilisation under load >= 0.3", load_util >= 0.3, load_util)
util_idle = gpu(idle, "nv_gpu_utilization")
check(
    "utilisation within 0..1",
    all(
        0 <= v <= 1
        for v in [*util_idle.values(), *gpu(loaded, "nv_gpu_utilization").values()]
    ),
)
used_idle = gpu(idle, "nv_gpu_memory_used_bytes")
used_load = gpu(loaded, "nv_gpu_memory_used_bytes")
check(
    "memory used grows by >= 1 GiB under load on some GPU",
    any(used_load.get(k, 0) - v >= 2**30 for k, v in used_idle.items()),
    {k: (used_idle[k], used_load.get(k)) for k in used_idle},
)
check("memory used <= total", all(used_load[k] <= total[k] for k in used_load))
power = gpu(loaded, "nv_gpu_power_usage")
limit = gpu(loaded, "nv_gpu_power_limit")
check(
    "power > 0 and <= 1.2 x limit",
    all(0 < power[k] <= 1.2 * limit.get(k, power[k]) for k in power),
    (power, limit),
)
check(
    "power under load > idle power on some GPU",
    any(power.get(k, 0) > v for k, v in gpu(idle, "nv_gpu_power_usage").items()),
    (gpu(idle, "nv_gpu_power_usage"), power),
)
m = (("model", "mlp"), ("version", "1"))
done = after.get(("nv_inference_request_success", m), 0) - before.get(
    ("nv_inference_request_success", m), 0
)
check(
    "nv_inference_request_success counts every request sent",
    done == sent["ok"] and sent["ok"] > 0,
    (done, sent),
)
check(
    "compute_infer duration moved",
    after.get(("nv_inference_compute_infer_duration_us", m), 0)
    > before.get(("nv_inference_compute_infer_duration_us", m), 0),
)
check("no worker restarts", after.get(("tensorbind_worker_restarts_total", m)) == 0)
check(
    "shared memory reported",
    (after.get(("tensorbind_shared_memory_bytes", m)) or 0) > 0,
)
snap = json.loads(
    urllib.request.urlopen(f"{ready['http']}/dashboard/api/snapshot", timeout=10).read()
)
(out / "snapshot.json").write_text(json.dumps(snap, indent=1))
check(
    "dashboard snapshot lists the GPUs",
    sorted(g["uuid"] for g in snap["gpus"]) == sorted(uuids),
)

failed = [c for c in checks if not c["ok"]]
(out / "check.json").write_text(
    json.dumps(
        {"passed": len(checks) - len(failed), "failed": len(failed), "checks": checks},
        indent=1,
    )
)
print(f"{len(checks) - len(failed)} passed, {len(failed)} failed")
sys.exit(1 if failed else 0)
