"""ExaTrkX benchmark: the served pipeline against the same six stages called directly in one
Python process, side by side (A B A B …), events/s at several concurrencies.

Direct: c threads of one process share one Pipeline (the TorchScript networks release the GIL,
SciPy's KD-tree and components partly). Served: c tritonclient gRPC connections, one request in
flight each, against `tensorbind serve` of the example — `--serve models` (models.ts, the
tensorbind way) or `--serve repository` (model_repository/, the Triton way) — or against another
server already running (`--url`, e.g. a tritonserver serving the same repository).

    .venv/bin/python bench/exatrkx/run.py --mu 20 --concurrency 1,4,8 --seconds 10 --pairs 2 --out /tmp/exatrkx-bench
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "exatrkx"
sys.path.insert(0, str(EXAMPLE))

from exatrkx.events import Event, generate, read_saved
from exatrkx.pipeline import Pipeline


def timed(c: int, seconds: float, once) -> float:
    """Runs `once(thread, k)` in c threads for `seconds`; events/s."""
    done = [0] * c
    stop = time.perf_counter() + seconds
    errors: list[BaseException] = []

    def loop(t: int) -> None:
        k = t
        try:
            state = None
            while time.perf_counter() < stop:
                state = once(t, k, state)
                done[t] += 1
                k += c
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=loop, args=(t,)) for t in range(c)]
    t0 = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        raise errors[0]
    return sum(done) / (time.perf_counter() - t0)


def direct_run(
    pipeline: Pipeline, events: list[Event], c: int, seconds: float
) -> float:
    def once(_t, k, state):
        pipeline(events[k % len(events)].features)

    return timed(c, seconds, once)


def served_run(url: str, events: list[Event], c: int, seconds: float) -> float:
    import tritonclient.grpc as grpcclient

    def once(_t, k, client):
        client = client or grpcclient.InferenceServerClient(url)
        ev = events[k % len(events)]
        x = grpcclient.InferInput("FEATURES", list(ev.features.shape), "FP32")
        x.set_data_from_numpy(ev.features)
        client.infer(
            "exatrkx", [x], outputs=[grpcclient.InferRequestedOutput("LABELS")]
        )
        return client

    states: dict = {}

    def keep(t, k, s):
        states[t] = once(t, k, states.get(t))

    return timed(c, seconds, keep)


def warm_up(run, window: float = 2.0, limit: float = 40.0) -> None:
    """Runs 2 s windows until two in a row agree within 15% (every instance warm), at most `limit` s.

    A fresh GPU instance's first requests (CUDA context, cuDNN, TorchScript's profiling runs) take
    up to ~100x a warm one's; with several instances per step a fixed 3 s was not enough for all.
    """
    before, spent = run(window), window
    while spent < limit:
        now = run(window)
        spent += window
        if before > 0 and abs(now - before) / before < 0.15:
            return
        before = now


def model_stats(http: str | None) -> dict[str, dict[str, float]]:
    """Per model: successful requests and the summed queue/compute times (ns) of /v2/models/stats."""
    if http is None:
        return {}
    import urllib.request

    with urllib.request.urlopen(f"{http}/v2/models/stats", timeout=10) as res:
        body = json.load(res)
    out = {}
    for m in body["model_stats"]:
        s = m["inference_stats"]
        out[m["name"]] = {
            "n": s["success"]["count"],
            **{
                k: s[k]["ns"]
                for k in ("queue", "compute_input", "compute_infer", "compute_output")
            },
            "request": s["success"]["ns"],
        }
    return out


def per_request_ms(before: dict, after: dict) -> dict[str, dict[str, float]]:
    """What each model's requests cost on average between two snapshots, in ms."""
    rows = {}
    for name, a in after.items():
        b = before.get(name, {k: 0 for k in a})
        n = a["n"] - b["n"]
        if n > 0:
            rows[name] = {"requests": n} | {
                k: round((a[k] - b[k]) / n / 1e6, 3) for k in a if k != "n"
            }
    return rows


def start_server(
    kind: str, out: Path, device: str, instances: int, repository: Path
) -> tuple[subprocess.Popen, str, str]:
    ready = out / f"ready-{kind}.json"
    ready.unlink(missing_ok=True)
    target = (
        ["examples/exatrkx/models.ts"]
        if kind == "models"
        else ["--model-repository", str(repository)]
    )
    env = {
        **os.environ,
        "EXATRKX_DEVICE": device,
        "EXATRKX_INSTANCES": str(instances),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
        "TENSORBIND_PYTHON": os.environ.get(
            "TENSORBIND_PYTHON", str(REPO / ".venv/bin/python")
        ),
    }
    log = open(out / f"server-{kind}.log", "wb")  # noqa: SIM115 (lives as long as the server)
    proc = subprocess.Popen(
        ["node", "bin/tensorbind.js", "serve", *target, "--http-port", "0", "--grpc-port", "0",
         "--metrics-port", "0", "--ready-file", str(ready)],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.time() + 600
    while not ready.exists() or not ready.read_text().strip():
        if proc.poll() is not None or time.time() > deadline:
            raise RuntimeError(f"server did not start: see {out}/server-{kind}.log")
        time.sleep(0.5)
    urls = json.loads(ready.read_text())
    return proc, urls["grpc"], urls["http"]


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--mu", type=float, default=20)
    ap.add_argument(
        "--events", type=int, default=8, help="distinct events, sent round robin"
    )
    ap.add_argument(
        "--events-dir",
        type=Path,
        default=None,
        help="events from make_events.py instead of the generator",
    )
    ap.add_argument("--concurrency", default="1,4,8")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--pairs", type=int, default=2)
    ap.add_argument("--serve", choices=("models", "repository"), default="models")
    ap.add_argument(
        "--url",
        default=None,
        help="a running server's gRPC host:port instead of starting one",
    )
    ap.add_argument(
        "--device", default="cpu", help="cpu or cuda:0 (networks and frnn), both sides"
    )
    ap.add_argument(
        "--instances", type=int, default=1, help="workers per stage (served, models.ts)"
    )
    ap.add_argument(
        "--repository",
        type=Path,
        default=EXAMPLE / "model_repository",
        help="for --serve repository",
    )
    ap.add_argument("--out", type=Path, default=Path("/tmp/exatrkx-bench"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.events_dir:
        events = read_saved(args.events_dir)[0][: args.events]
    else:
        events = list(generate(args.mu, args.events, seed=1))
    pipeline = Pipeline(device=args.device)
    proc, url, http = (
        (None, args.url, None)
        if args.url
        else start_server(
            args.serve, args.out, args.device, args.instances, args.repository
        )
    )
    rows = []
    try:
        # Warm-up of every instance (the first request of each loads lazily: CUDA context, TorchScript
        # profiling runs) and of the direct threads, at the highest concurrency, outside the windows.
        top = max(int(x) for x in args.concurrency.split(","))
        warm_up(lambda s: served_run(url, events, top, s))
        warm_up(lambda s: direct_run(pipeline, events, top, s))
        for c in [int(x) for x in args.concurrency.split(",")]:
            direct, served = [], []
            before = model_stats(http)
            for _ in range(args.pairs):
                direct.append(direct_run(pipeline, events, c, args.seconds))
                served.append(served_run(url, events, c, args.seconds))
            # Where a served event's time goes, step by step (the server's own statistics).
            steps = per_request_ms(before, model_stats(http))
            ratios = [s / d for s, d in zip(served, direct)]
            row = {
                "mu": args.mu,
                "concurrency": c,
                "direct_ev_s": [round(v, 2) for v in direct],
                "served_ev_s": [round(v, 2) for v in served],
                "served_over_direct": [round(r, 3) for r in ratios],
                "median_ratio": round(statistics.median(ratios), 3),
                **({"server_ms_per_request": steps} if steps else {}),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=60)
    meta = {
        "command": " ".join(sys.argv),
        "serve": args.url or args.serve,
        "device": args.device,
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "points_per_event": round(float(np.mean([e.n for e in events]))),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    (args.out / "results.json").write_text(
        json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n"
    )


if __name__ == "__main__":
    main()
