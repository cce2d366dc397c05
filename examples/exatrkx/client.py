"""Python client of the ExaTrkX-style service, on NVIDIA's official tritonclient (gRPC or HTTP).

Generates N events (the traccc example's generator), sends one event per request (FEATURES
FP32 [n, 3] -> LABELS INT64 [n]) with P requests in flight, checks each answer against the six
stages called directly in this process, and reports events/s, latency percentiles and the
tracking quality against truth (efficiency, fake rate, duplicate rate for pT > 1 GeV).

    python examples/exatrkx/client.py --mu 20 --events 50 --concurrency 4 [--url localhost:8001]
    python examples/exatrkx/client.py --protocol http --url localhost:8000 --no-check

Exits 1 when an answer differs from the direct pipeline.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from exatrkx.events import Event, generate, read_saved
from exatrkx.physics import Quality, score


def connect(protocol: str, url: str):
    if protocol == "grpc":
        import tritonclient.grpc as client
    else:
        import tritonclient.http as client
    return client, client.InferenceServerClient(
        url, concurrency=1
    ) if protocol == "http" else client.InferenceServerClient(url)


def send_all(
    protocol: str,
    url: str,
    model: str,
    events: list[Event],
    concurrency: int,
    repeat: int = 1,
):
    """Sends every event `repeat` times, `concurrency` at once (one connection per thread).
    Returns (labels per event, latencies in s, wall time in s)."""
    jobs = [i for _ in range(repeat) for i in range(len(events))]
    labels: list[np.ndarray | None] = [None] * len(events)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    cursor = iter(jobs)

    def worker() -> None:
        module, client = connect(protocol, url)
        try:
            while True:
                with lock:
                    i = next(cursor, None)
                if i is None or errors:
                    return
                x = module.InferInput("FEATURES", list(events[i].features.shape), "FP32")
                x.set_data_from_numpy(events[i].features)
                out = [module.InferRequestedOutput("LABELS")]
                t = time.perf_counter()
                try:
                    result = client.infer(model, [x], outputs=out)
                except Exception as e:
                    with lock:
                        errors.append(f"event {i}: {e}")
                    return
                dt = time.perf_counter() - t
                with lock:
                    latencies.append(dt)
                    labels[i] = result.as_numpy("LABELS")
        finally:
            client.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    t0 = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t0
    if errors:
        raise RuntimeError("; ".join(errors[:3]))
    return labels, latencies, wall


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--url",
        default=None,
        help="host:port (default localhost:8001 for gRPC, :8000 for HTTP)",
    )
    ap.add_argument("--protocol", choices=("grpc", "http"), default="grpc")
    ap.add_argument("--model", default="exatrkx")
    ap.add_argument("--mu", type=float, default=20)
    ap.add_argument("--events", type=int, default=20, help="N events")
    ap.add_argument("--seed", type=int, default=1, help="generator seed (training used 7 and 8)")
    ap.add_argument("--first", type=int, default=0, help="index of the first event")
    ap.add_argument("--concurrency", type=int, default=1, help="P requests in flight")
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="send each event this many times (throughput)",
    )
    ap.add_argument(
        "--no-check",
        action="store_true",
        help="skip the comparison with the direct pipeline",
    )
    ap.add_argument(
        "--events-dir", type=Path, default=None, help="events from make_events.py, not the generator"
    )
    ap.add_argument("--device", default="cpu", help="where the direct pipeline runs for the check (cuda:0)")
    ap.add_argument("--json", type=Path, default=None, help="write the report as JSON here")
    args = ap.parse_args(argv)
    url = args.url or ("localhost:8001" if args.protocol == "grpc" else "localhost:8000")

    if args.events_dir:
        events = read_saved(args.events_dir)[0][: args.events]
        args.mu = float("nan")
    else:
        events = list(generate(args.mu, args.events, seed=args.seed, first=args.first))
    labels, latencies, wall = send_all(args.protocol, url, args.model, events, args.concurrency, args.repeat)

    quality = Quality()
    for ev, lab in zip(events, labels):
        quality.add(score(ev, lab))
    mismatches = 0
    if not args.no_check:
        from exatrkx.pipeline import Pipeline

        direct = Pipeline(device=args.device)
        for i, (ev, lab) in enumerate(zip(events, labels)):
            if not np.array_equal(direct(ev.features), lab):
                mismatches += 1
                print(
                    f"event {i}: served labels differ from the direct pipeline",
                    file=sys.stderr,
                )

    ms = np.array(latencies) * 1000
    report = {
        "model": args.model,
        "protocol": args.protocol,
        "mu": args.mu,
        "events": len(events),
        "requests": len(latencies),
        "concurrency": args.concurrency,
        "points_per_event": float(np.mean([ev.n for ev in events])),
        "events_per_s": len(latencies) / wall,
        "latency_ms": {p: float(np.percentile(ms, int(p[1:]))) for p in ("p50", "p90", "p99")},
        "efficiency": quality.efficiency,
        "fake_rate": quality.fake_rate,
        "duplicate_rate": quality.duplicate_rate,
        "particles": quality.particles,
        "tracks": quality.tracks,
        "checked": not args.no_check,
        "mismatches": mismatches,
    }
    print(
        f"{report['requests']} events (mu {args.mu:g}, {report['points_per_event']:.0f} points each) in {wall:.2f} s: "
        f"{report['events_per_s']:.2f} events/s at concurrency {args.concurrency}; latency ms "
        + ", ".join(f"{k} {v:.1f}" for k, v in report["latency_ms"].items())
    )
    print(f"pT > 1 GeV: {quality.summary()}")
    if not args.no_check:
        print(f"direct pipeline: {len(events) - mismatches}/{len(events)} events identical")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
