"""CPU against GPU for the ExaTrkX pipeline: the six stages called directly on `--device`, on
events saved by make_events.py with the CPU pipeline's labels beside them.

Reports per event whether the labels are identical, the share of the CPU's tracks (labels with
>= 5 points) found point for point in the GPU's labels, and the tracking quality of both.

    python3 bench/exatrkx/compare_devices.py --events-dir DIR --device cuda:0 [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "exatrkx"))

from exatrkx.events import read_saved
from exatrkx.physics import Quality, score
from exatrkx.pipeline import Pipeline


def tracks(labels: np.ndarray, min_hits: int = 5) -> set[tuple[int, ...]]:
    order = np.argsort(labels, kind="stable")
    groups = np.split(order, np.flatnonzero(np.diff(labels[order])) + 1)
    return {tuple(g.tolist()) for g in groups if len(g) >= min_hits}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events-dir", type=Path, required=True)
    ap.add_argument("--device", default="cuda:0")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    events, cpu_labels = read_saved(args.events_dir)
    pipeline = Pipeline(device=args.device)
    pipeline(events[0].features)  # warm-up (CUDA context, kernels)
    q_cpu, q_dev = Quality(), Quality()
    rows = []
    for i, (ev, ref) in enumerate(zip(events, cpu_labels)):
        t = time.perf_counter()
        labels = pipeline(ev.features)
        ms = 1000 * (time.perf_counter() - t)
        a, b = tracks(ref), tracks(labels)
        q_cpu.add(score(ev, ref))
        q_dev.add(score(ev, labels))
        rows.append(
            {
                "event": i,
                "points": ev.n,
                "identical": bool(np.array_equal(ref, labels)),
                "cpu_tracks_reproduced": round(len(a & b) / max(1, len(a)), 4),
                "ms": round(ms, 1),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    summary = {
        "device": args.device,
        "events": len(events),
        "identical_events": sum(r["identical"] for r in rows),
        "cpu_tracks_reproduced": round(float(np.mean([r["cpu_tracks_reproduced"] for r in rows])), 4),
        "efficiency_cpu": round(q_cpu.efficiency, 4),
        "efficiency_device": round(q_dev.efficiency, 4),
        "fake_rate_cpu": round(q_cpu.fake_rate, 4),
        "fake_rate_device": round(q_dev.fake_rate, 4),
    }
    print(json.dumps(summary))
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "events": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
