"""ExaTrkX repository: tensorbind against the real tritonserver (the one PyPI's nvidia-pytriton
ships, Python backend, no libtorch backend), same client, same CPU, side by side.

That tritonserver has no libtorch backend, so the script serves it a Triton-servable copy of
examples/exatrkx/model_repository (triton_copy.py: embed, filter and gnn become Python-backend
models that `torch.jit.load` the same model.pt; everything else is the same). Three servers,
started once, measured in turn (A B C A B C):

  tensorbind            `tensorbind serve --model-repository` of the original repository
  tensorbind-converted  `tensorbind serve --model-repository` of the copy (same backends as Triton)
  triton                tritonserver (bench/repository-vs-triton/tritonserver.py) of the copy

The client is bench/exatrkx/run.py's served mode (c tritonclient gRPC connections, one event in
flight each, events sent round robin). Before timing, every event's labels from every server are
compared with the direct pipeline's. Reported: events/s per run and the median ratio to Triton;
each server's CPU per event (all its processes, from /proc, which the machine's load hardly
changes) and, on the copy, the models' own execute() CPU, so what serving adds is measured; and
each server's /v2/models/stats per step.

    .venv/bin/python bench/exatrkx/vs-triton.py --mu 20 --events 6 --concurrency 1,4,8 --seconds 12 --pairs 3

Needs: npm run build, npm run build:native, npm run build:traccc (or --events-dir), .venv. Creates
.venv-pytriton (pip install nvidia-pytriton) on first use; Triton's stub imports NumPy from it and
torch and SciPy from .venv (the copy's models add BENCH_SITE to sys.path).
Servers run on CPU 0, this client on CPU 1, when there are >= 2 CPUs (--no-pin: none).
`--convert-only DIR` writes the copy and exits (the ExaTrkX integration test serves it).
Markdown on stdout, JSON in --out.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
EXAMPLE = REPO / "examples" / "exatrkx"
sys.path.insert(0, str(EXAMPLE))
sys.path.insert(0, str(HERE))

from exatrkx.events import generate, read_saved
from exatrkx.pipeline import Pipeline
from run import served_run
from triton_copy import convert

SIDES = ("tensorbind", "tensorbind-converted", "triton")
TB_PY = Path(os.environ.get("TENSORBIND_PYTHON", REPO / ".venv/bin/python"))
PT_VENV = REPO / ".venv-pytriton"
PT_PY = PT_VENV / "bin/python"


def site_packages(python: Path) -> str:
    return subprocess.run(
        [str(python), "-c", "import site;print(':'.join(site.getsitepackages()))"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip


def ensure_pytriton() -> str:
    if not PT_PY.exists():
        print("creating .venv-pytriton and installing nvidia-pytriton (once)", file=sys.stderr)
        base = os.environ.get("PYTRITON_BASE_PYTHON", "python3")
        subprocess.run([base, "-m", "venv", str(PT_VENV)], check=True)
        subprocess.run([str(PT_PY), "-m", "pip", "install", "-q", "nvidia-pytriton"], check=True)
    return subprocess.run(
        [str(PT_PY), "-c", "import importlib.metadata as m;print(m.version('nvidia-pytriton'))"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One server in its own process group (tritonserver's stubs, tensorbind's workers)."""

    def __init__(self, side: str, repository: Path, out: Path, pin: list[str]):
        self.side = side
        self.http, self.grpc, metrics = free_port(), free_port(), free_port()
        env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
        self.timing = out / f"timing-{side}"
        shutil.rmtree(self.timing, ignore_errors=True)
        self.timing.mkdir()
        env["BENCH_TIMING"] = str(self.timing)
        if side == "triton":
            # The stub's C++ reads NumPy 1 arrays (a NumPy 2 array reaches it empty): the pytriton
            # venv's NumPy first, then torch and SciPy from tensorbind's venv.
            env["BENCH_SITE"] = f"{site_packages(PT_PY)}:{site_packages(TB_PY)}"
            argv = [str(PT_PY), str(REPO / "bench/repository-vs-triton/tritonserver.py"), str(repository),
                    str(self.http), str(self.grpc), str(metrics)]  # fmt: skip
        else:
            env["TENSORBIND_PYTHON"] = str(TB_PY)
            argv = [shutil.which("node") or "node", str(REPO / "bin/tensorbind.js"), "serve",
                    "--model-repository", str(repository), "--http-port", str(self.http),
                    "--grpc-port", str(self.grpc), "--metrics-port", str(metrics), "--log-level", "warn"]  # fmt: skip
        self.log = out / f"server-{side}.log"
        t0 = time.perf_counter()
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                pin + argv, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        deadline = time.time() + 300
        while not self.ready():
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise RuntimeError(f"{side} did not start: see {self.log}")
            time.sleep(0.5)
        self.startup_s = time.perf_counter() - t0

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.http}/v2/models/exatrkx/ready", timeout=2
            ) as r:
                return r.status == 200
        except OSError:
            return False

    def cpu_seconds(self) -> tuple[float, float]:
        """User + system CPU of the server's main process (node, tritonserver) and of the rest of
        its process group (Python workers, backend stubs)."""
        tick = os.sysconf("SC_CLK_TCK")
        main = rest = 0
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == self.proc.pid:  # pgrp
                ticks = int(fields[11]) + int(fields[12])  # utime, stime
                if int(pid) == self.proc.pid:
                    main += ticks
                else:
                    rest += ticks
        return main / tick, rest / tick

    def stats(self) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http}/v2/models/stats", timeout=10) as r:
            return json.loads(r.read())

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def labels_of(url: str, features: np.ndarray) -> np.ndarray:
    import tritonclient.grpc as grpcclient

    client = grpcclient.InferenceServerClient(url)
    try:
        x = grpcclient.InferInput("FEATURES", list(features.shape), "FP32")
        x.set_data_from_numpy(features)
        return client.infer("exatrkx", [x]).as_numpy("LABELS")
    finally:
        client.close()


STAT_KEYS = ("queue", "compute_input", "compute_infer", "compute_output")


def per_step(stats: dict) -> dict[str, dict[str, float]]:
    """Mean ms per request of each model's queue and compute phases (and its request count)."""
    rows = {}
    for m in stats.get("model_stats", []):
        inf = m.get("inference_stats", {})
        n = int(inf.get("success", {}).get("count", 0))
        if not n:
            continue
        row = {k: int(inf.get(k, {}).get("ns", 0)) / n / 1e6 for k in STAT_KEYS}
        row["success"] = int(inf.get("success", {}).get("ns", 0)) / n / 1e6
        row["count"] = n
        rows[m["name"]] = row
    return rows


def cpu_split(servers: dict, windows: list) -> dict[int, dict[str, dict[str, float]]]:
    """Per concurrency and side (median of pairs): the server's CPU ms per event (all its
    processes) and, on the converted copy, the models' own execute() CPU and wall ms per event
    (the timing lines written inside each run's window)."""
    lines = {}
    for side, s in servers.items():
        rows = []
        for f in s.timing.glob("*.txt"):
            for line in f.read_text().splitlines():
                _model, _n, end, wall, cpu = line.split()
                rows.append((float(end), float(wall), float(cpu)))
        lines[side] = rows
    out: dict[int, dict[str, dict[str, list[float]]]] = {}
    for side, c, t0, t1, rate, main_cpu, workers_cpu in windows:
        events = max(rate * (t1 - t0), 1e-9)
        d = out.setdefault(c, {}).setdefault(side, {})
        d.setdefault("server_cpu_ms", []).append((main_cpu + workers_cpu) / events * 1000)
        d.setdefault("main_cpu_ms", []).append(main_cpu / events * 1000)
        if lines.get(side):
            inside = [(w, cpu) for end, w, cpu in lines[side] if t0 <= end <= t1]
            d.setdefault("models_cpu_ms", []).append(sum(cpu for _, cpu in inside) / events * 1000)
            d.setdefault("models_wall_ms", []).append(sum(w for w, _ in inside) / events * 1000)
    return {
        c: {side: {k: round(statistics.median(v), 1) for k, v in d.items()} for side, d in sides.items()}
        for c, sides in out.items()
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mu", type=float, default=20)
    ap.add_argument("--events", type=int, default=6, help="distinct events, sent round robin")
    ap.add_argument("--events-dir", type=Path, default=None, help="events from make_events.py instead")
    ap.add_argument("--concurrency", default="1,4,8")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--pairs", type=int, default=2)
    ap.add_argument("--sides", default=",".join(SIDES))
    ap.add_argument("--repository", type=Path, default=EXAMPLE / "model_repository")
    ap.add_argument("--no-pin", action="store_true")
    ap.add_argument("--convert-only", type=Path, default=None, help="write the converted copy here and exit")
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "exatrkx-vs-triton")
    args = ap.parse_args()
    if args.convert_only:
        print(" ".join(convert(args.repository, args.convert_only)))
        return 0
    sides = args.sides.split(",")
    args.out.mkdir(parents=True, exist_ok=True)
    pt_version = ensure_pytriton()

    events = (
        read_saved(args.events_dir)[0][: args.events]
        if args.events_dir
        else list(generate(args.mu, args.events, seed=1))
    )
    direct = Pipeline(device="cpu")
    expected = [direct(ev.features) for ev in events]

    pin_ok = not args.no_pin and (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None
    server_pin = ["taskset", "-c", "0"] if pin_ok else []
    work = Path(tempfile.mkdtemp(prefix="exatrkx-vs-triton-"))
    converted_repo = work / "model_repository"
    converted = convert(args.repository, converted_repo)
    repos = {"tensorbind": args.repository, "tensorbind-converted": converted_repo, "triton": converted_repo}

    servers: dict[str, Server] = {}
    rows = []
    try:
        for side in sides:
            servers[side] = Server(side, repos[side], args.out, server_pin)
            print(f"{side}: ready in {servers[side].startup_s:.1f} s", file=sys.stderr)
        if pin_ok:
            os.sched_setaffinity(0, {1})
        urls = {side: f"127.0.0.1:{s.grpc}" for side, s in servers.items()}
        # Answers: every server, every event, equal to the direct pipeline (and so to each other).
        for side, url in urls.items():
            for i, ev in enumerate(events):
                try:
                    got = labels_of(url, ev.features)
                except Exception as e:
                    raise SystemExit(f"{side}: event {i}: {e}") from None
                if not np.array_equal(got, expected[i]):
                    raise SystemExit(f"{side}: event {i} labels differ from the direct pipeline")
        print(
            f"answers: {len(events)} events x {len(urls)} servers equal to the direct pipeline",
            file=sys.stderr,
        )
        before = {side: per_step(s.stats()) for side, s in servers.items()}
        windows: list[tuple[str, int, float, float, float, float, float]] = []
        for c in [int(x) for x in args.concurrency.split(",")]:
            got: dict[str, list[float]] = {side: [] for side in sides}
            for p in range(args.pairs):
                for side in sides:
                    t0, cpu0 = time.time(), servers[side].cpu_seconds()
                    got[side].append(served_run(urls[side], events, c, args.seconds))
                    t1, cpu1 = time.time(), servers[side].cpu_seconds()
                    windows.append((side, c, t0, t1, got[side][-1], cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]))
                print(
                    f"c={c} pair {p + 1}: " + ", ".join(f"{s} {got[s][-1]:.2f}/s" for s in sides),
                    file=sys.stderr,
                )
            row = {"concurrency": c, "events_per_s": {s: [round(v, 3) for v in got[s]] for s in sides}}
            if "triton" in sides:
                row["over_triton"] = {
                    s: round(statistics.median([a / b for a, b in zip(got[s], got["triton"])]), 3)
                    for s in sides
                    if s != "triton"
                }
            rows.append(row)
        after = {side: s.stats() for side, s in servers.items()}
    finally:
        for s in servers.values():
            s.stop()
        shutil.rmtree(work, ignore_errors=True)

    steps = {side: per_step(after[side]) for side in servers}
    split = cpu_split(servers, windows)
    for row in rows:
        row["cpu_per_event"] = split.get(row["concurrency"], {})
    meta = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "pinned": pin_ok,
        "nvidia_pytriton": pt_version,
        "converted": converted,
        "points_per_event": round(float(np.mean([ev.n for ev in events]))),
        "startup_s": {side: round(s.startup_s, 2) for side, s in servers.items()},
    }
    (args.out / "results.json").write_text(
        json.dumps({"meta": meta, "rows": rows, "steps": steps, "steps_before": before}, indent=2) + "\n"
    )
    print(report(meta, rows, steps, sides))
    return 0


def report(meta: dict, rows: list[dict], steps: dict, sides: list[str]) -> str:
    o = [
        f"`{meta['command']}` — {meta['date']}, {meta['cpus']} CPUs, load average at end "
        f"{' '.join(f'{x:.1f}' for x in meta['load_average'])}, "
        + ("servers on CPU 0, client on CPU 1" if meta["pinned"] else "not pinned")
        + f"; nvidia-pytriton {meta['nvidia_pytriton']}; μ = {meta['points_per_event']} points per event",
        "",
        "| c | "
        + " | ".join(f"{s} events/s (per pair)" for s in sides)
        + " | "
        + " | ".join(f"{s} / triton (median)" for s in sides if s != "triton" and "triton" in sides)
        + " |",
        "|---" * (1 + len(sides) + sum(1 for s in sides if s != "triton" and "triton" in sides)) + "|",
    ]
    for r in rows:
        cells = [", ".join(f"{v:.2f}" for v in r["events_per_s"][s]) for s in sides]
        ratios = [f"**{r['over_triton'][s]:.2f}\u00d7**" for s in r.get("over_triton", {})]
        o.append(f"| {r['concurrency']} | " + " | ".join(cells + ratios) + " |")
    o += [
        "",
        "CPU per event (median of pairs): the server's processes in all; of it, the models' own "
        "execute() (timed inside model.py, converted copy only); the rest is serving:",
        "",
        "| c | side | server CPU ms / event | of it, main process | models' CPU ms / event | serving CPU ms / event |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        for side, d in r.get("cpu_per_event", {}).items():
            models = d.get("models_cpu_ms")
            rest = "-" if models is None else f"{d['server_cpu_ms'] - models:.1f}"
            o.append(
                f"| {r['concurrency']} | {side} | {d['server_cpu_ms']:.0f} | {d['main_cpu_ms']:.1f} | "
                + ("-" if models is None else f"{models:.0f}")
                + f" | {rest} |"
            )
    o += ["", "Per step, whole run (mean ms per request: queue / compute input / infer / output):", ""]
    models = sorted({m for s in steps.values() for m in s}, key=lambda m: (m == "exatrkx", m))
    o.append("| model | " + " | ".join(sides) + " |")
    o.append("|---" * (1 + len(sides)) + "|")
    for m in models:
        cells = []
        for s in sides:
            st = steps.get(s, {}).get(m)
            cells.append(
                "-" if st is None else " / ".join(f"{st[k]:.1f}" for k in STAT_KEYS) + f" (n {st['count']})"
            )
        o.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(o)


if __name__ == "__main__":
    sys.exit(main())
