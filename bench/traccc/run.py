"""traccc service benchmark: served (tensorbind, gRPC or HTTP, the example's tritonclient client) versus
direct in-process calls of the same reconstruction (examples/traccc traccc-reco --threads), side
by side, for several pile-up values and instance counts.

For each instance count k a server runs with k instances; for each mu the direct run (k threads,
each its own Reconstructor) and the served run alternate `--pairs` times, each for `--seconds`.
The served run uses k client processes with 2 requests in flight each (2k in all, so no instance
waits for the network, and no Python GIL limits the client at 7 MB per request). GPU utilisation
is sampled with nvidia-smi when there is one. --protocol http: the clients send over HTTP (binary
tensors) to the server's HTTP port instead of gRPC. Writes results.json and results.md to --out.

    .venv/bin/python bench/traccc/run.py --device cpu --mu 20,50 --instances 1,2 --out /tmp/traccc-bench
    .venv/bin/python bench/traccc/run.py --device cpu --mu 20 --instances 1 --protocol http --out /tmp/traccc-http
    python3 bench/traccc/run.py --device cuda --mu 20,50,100,200 --instances 1,2,3,4 --out "$OUT"
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "traccc"
sys.path.insert(0, str(EXAMPLE))
import client as traccc_client
import numpy as np


class GpuSampler:
    """nvidia-smi samples every 200 ms, tagged with the phase running at the time."""

    def __init__(self) -> None:
        self.samples: list[
            tuple[str, float, float]
        ] = []  # phase, utilisation %, memory MiB
        self.phase = "idle"
        self.proc: subprocess.Popen | None = None
        if shutil.which("nvidia-smi"):
            self.proc = subprocess.Popen(
                ["nvidia-smi", "--query-gpu=utilization.gpu,memory.used", "--format=csv,noheader,nounits",
                 "-lms", "200", "-i", os.environ.get("TRACCC_GPU_INDEX", "0")],
                stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                util, mem = (float(x) for x in line.split(","))
            except ValueError:
                continue
            self.samples.append((self.phase, util, mem))

    def mean(self, phase: str) -> float | None:
        vals = [u for p, u, _ in self.samples if p == phase]
        return round(statistics.mean(vals), 1) if vals else None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait()


def start_server(
    out: Path, device: str, instances: int, node: str, gpus: int = 1
) -> tuple[subprocess.Popen, dict]:
    ready = out / f"ready-{instances}.json"
    ready.unlink(missing_ok=True)
    log = open(out / f"server-{instances}.log", "wb")  # noqa: SIM115 (lives as long as the server)
    env = {
        **os.environ,
        "TRACCC_DEVICE": device,
        "TRACCC_INSTANCES": str(instances),
        "TRACCC_GPUS": str(gpus),
    }
    proc = subprocess.Popen(
        [node, "bin/tensorbind.js", "serve", "examples/traccc/models.ts", "--http-port", "0",
         "--grpc-port", "0", "--metrics-port", "0", "--ready-file", str(ready)],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if ready.exists():
            try:
                return proc, json.loads(ready.read_text())
            except json.JSONDecodeError:
                pass
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(
        f"server with {instances} instance(s) did not start; see {log.name}"
    )


def stop_server(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def direct(
    build: Path,
    events: Path,
    n: int,
    device: str,
    k: int,
    seconds: float,
    out: Path,
    gpus: int = 1,
) -> dict:
    js = out / "direct.json"
    subprocess.run(
        [str(build / "core" / "traccc-reco"), "--dir", str(events), "--events", str(n), "--device", device,
         "--threads", str(k), "--throughput", str(seconds), "--physics-events", "1", "--quiet",
         "--gpus", str(gpus), "--json", str(js)],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return json.loads(js.read_text())


def _served_worker(
    url: str,
    events_dir: str,
    seconds: float,
    barrier,
    results,
    shm: str = "none",
    protocol: str = "grpc",
) -> None:
    """One client process: loads the events, waits for the others, sends for `seconds`."""
    try:
        evs = traccc_client.read_event_dir(Path(events_dir), None)
        pitch = traccc_client.pitch_table(Path(events_dir) / "meta.json")
        barrier.wait(timeout=120)
        rep, _ = traccc_client.run(
            url, "traccc", evs, 2, 1, pitch, duration_s=seconds, shared_memory=shm, protocol=protocol
        )
        results.put(("ok", rep))
    except BaseException as e:  # noqa: BLE001 (reported by the parent)
        results.put(("error", repr(e)))


def same_as_body(url: str, events_dir: Path, shm: str, n: int = 3, protocol: str = "grpc") -> bool:
    """Whether n events sent through shared memory get the outputs the request-body path gets."""
    evs = traccc_client.read_event_dir(events_dir, n)
    pitch = traccc_client.pitch_table(events_dir / "meta.json")
    _, body = traccc_client.run(url, "traccc", evs, 1, 1, pitch, protocol=protocol)
    _, shared = traccc_client.run(url, "traccc", evs, 1, 1, pitch, shared_memory=shm, protocol=protocol)
    same = all(
        a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
        for a, b in zip(body, shared, strict=True)
    )
    print(f"{shm} shared memory vs request body, {n} events: {'equal' if same else 'DIFFERENT'}", flush=True)
    return same


def served_run(
    url: str, events_dir: Path, k: int, seconds: float, shm: str = "none", protocol: str = "grpc"
) -> tuple[float, traccc_client.Report]:
    """Aggregate events/s of k client processes; the report of the first (physics, sizes, latency)."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(k)
    results = ctx.Queue()
    procs = [
        ctx.Process(
            target=_served_worker,
            args=(url, str(events_dir), seconds, barrier, results, shm, protocol),
        )
        for _ in range(k)
    ]
    for p in procs:
        p.start()
    reports = []
    for _ in procs:
        status, value = results.get(timeout=300)
        if status != "ok":
            raise RuntimeError(f"client process failed: {value}")
        reports.append(value)
    for p in procs:
        p.join()
    return sum(r.events_per_s for r in reports), reports[0]


def write_results(
    out: Path, meta: dict, rows: list[dict], device: str, show: bool = False
) -> None:
    """results.json and results.md; rewritten after every point, so a cut-short run keeps its figures."""
    (out / "results.json").write_text(
        json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n"
    )
    lines = [
        (
            f"traccc served vs direct, device {device}, {meta['date']}, {meta['machine']}, "
            f"protocol {meta.get('protocol', 'grpc')}, shared memory {meta.get('shared_memory', 'none')}"
        ),
        "",
        (
            "| mu | instances | direct ev/s | served ev/s | served/direct (median) | request MB | response MB "
            "| p50 ms | GPU util direct/served % | efficiency | fake | dup |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['mu']:g} | {r['instances']} | {statistics.median(r['direct_events_per_s']):.2f} "
            f"| {statistics.median(r['served_events_per_s']):.2f} | {r['ratio_median']:.3f} "
            f"| {r['request_mb']:.2f} | {r['response_mb']:.3f} | {r['latency_ms_p50']:.1f} "
            f"| {r['gpu_util_direct']}/{r['gpu_util_served']} | {r['efficiency']:.4f} | {r['fake_rate']:.4f} "
            f"| {r['duplicate_rate']:.4f} |"
        )
    (out / "results.md").write_text("\n".join(lines) + "\n")
    if show:
        print("\n".join(lines))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--mu", default="20,50")
    ap.add_argument("--instances", default="1,2")
    ap.add_argument(
        "--events",
        type=int,
        default=10,
        help="distinct events per mu (sent round-robin)",
    )
    ap.add_argument(
        "--seconds", type=float, default=3.0, help="length of each timed run"
    )
    ap.add_argument(
        "--pairs",
        type=int,
        default=2,
        help="direct/served pairs per point (A B A B ...)",
    )
    ap.add_argument(
        "--gpus",
        type=int,
        default=1,
        help="spread over GPUs 0..N-1 with --instances on each (server and direct threads alike)",
    )
    ap.add_argument("--build", type=Path, default=EXAMPLE / "build")
    ap.add_argument("--node", default=os.environ.get("NODE", "node"))
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument(
        "--shared-memory",
        default="none",
        choices=["none", "system", "cuda"],
        help="served clients send the cells through system or CUDA shared memory (docs/SHARED_MEMORY.md)",
    )
    ap.add_argument(
        "--protocol",
        default="grpc",
        choices=traccc_client.PROTOCOLS,
        help="served clients send over gRPC (default) or HTTP with binary tensors",
    )
    ap.add_argument(
        "--min-clients",
        type=int,
        default=1,
        help="at least this many client processes (connections), so several frontend threads (--workers) take requests in",
    )
    args = ap.parse_args()
    if args.protocol == "http" and args.shared_memory == "cuda":
        ap.error("--shared-memory cuda is gRPC only (the example's CUDA region client): use --protocol grpc")
    # `timeout` sends SIGTERM: unwind through the finally blocks so no server is left running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    mus = [float(m) for m in args.mu.split(",")]
    ks = [int(k) for k in args.instances.split(",")]

    event_dirs: dict[float, Path] = {}
    for mu in mus:
        d = out / "events" / f"mu{mu:g}"
        if not (d / "meta.json").exists():
            subprocess.run(
                [str(args.build / "core" / "traccc-gen"), "--mu", f"{mu:g}", "--events", str(args.events),
                 "--seed", "1", "--out", str(d)],
                check=True, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        event_dirs[mu] = d

    meta = {
        "device": args.device,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} CPUs",
        "seconds_per_run": args.seconds,
        "pairs": args.pairs,
        "events_per_mu": args.events,
        "shared_memory": args.shared_memory,
        "protocol": args.protocol,
        "gpus": args.gpus,
    }
    gpu = GpuSampler()
    rows: list[dict] = []
    try:
        for k in ks:
            proc, info = start_server(out, args.device, k, args.node, args.gpus)
            url = info[args.protocol]  # the ready file's "grpc" (host:port) or "http" (http://host:port)
            total = (
                k * args.gpus
            )  # instances in all, as direct threads and client processes
            try:
                for mu in mus:
                    d_rates: list[float] = []
                    s_rates: list[float] = []
                    served = None
                    for p in range(args.pairs):
                        gpu.phase = f"direct k={k} mu={mu:g}"
                        dj = direct(
                            args.build,
                            event_dirs[mu],
                            args.events,
                            args.device,
                            total,
                            args.seconds,
                            out,
                            args.gpus,
                        )
                        d_rates.append(dj["throughput_events_per_s"])
                        gpu.phase = f"served k={k} mu={mu:g}"
                        rate, rep = served_run(
                            url,
                            event_dirs[mu],
                            max(total, args.min_clients),
                            args.seconds,
                            args.shared_memory,
                            args.protocol,
                        )
                        gpu.phase = "idle"
                        s_rates.append(rate)
                        if p == 0:
                            served = rep
                        rates = f"direct {d_rates[-1]:.2f} ev/s, served {s_rates[-1]:.2f} ev/s"
                        print(f"k={k} mu={mu:g} pair {p}: {rates}", flush=True)
                    assert served is not None
                    ratios = [s / d for s, d in zip(s_rates, d_rates, strict=True)]
                    rows.append(
                        {
                            "instances": k,
                            "mu": mu,
                            "direct_events_per_s": d_rates,
                            "served_events_per_s": s_rates,
                            "ratio_median": statistics.median(ratios),
                            "ratios": ratios,
                            "gpus": args.gpus,
                            "protocol": args.protocol,
                            "client_concurrency": 2 * max(total, args.min_clients),
                            "client_processes": max(total, args.min_clients),
                            "request_mb": served.request_bytes / 1e6,
                            "response_mb": served.response_bytes / 1e6,
                            "latency_ms_p50": served.latency_ms_p50,
                            "latency_ms_p99": served.latency_ms_p99,
                            "gpu_util_direct": gpu.mean(f"direct k={k} mu={mu:g}"),
                            "gpu_util_served": gpu.mean(f"served k={k} mu={mu:g}"),
                            "efficiency": served.physics.efficiency,
                            "fake_rate": served.physics.fake_rate,
                            "duplicate_rate": served.physics.duplicate_rate,
                            **(
                                {
                                    "shm_equals_body": same_as_body(
                                        url, event_dirs[mu], args.shared_memory, protocol=args.protocol
                                    )
                                }
                                if args.shared_memory != "none"
                                else {}
                            ),
                        }
                    )
                    write_results(out, meta, rows, args.device)
            finally:
                stop_server(proc)
    finally:
        gpu.stop()

    write_results(out, meta, rows, args.device, show=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
