"""Milliseconds per stage of the direct pipeline (one thread), to set beside the served per-step times.

python3 bench/exatrkx/stage_times.py --device cuda:0 --events-dir examples/exatrkx/gpu-events/mu20
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples/exatrkx"))
from exatrkx.events import generate, read_saved  # noqa: E402
from exatrkx.pipeline import Pipeline  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--events-dir", type=Path)
    ap.add_argument("--events", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    evs = (
        read_saved(args.events_dir)[0][: args.events]
        if args.events_dir
        else list(generate(20, args.events, seed=1))
    )
    p = Pipeline(device=args.device)
    dev = p.device
    cuda = dev.type == "cuda"
    times: dict[str, float] = {}

    def timed(name, fn, *a):
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        r = fn(*a)
        if cuda:
            torch.cuda.synchronize()
        times[name] = times.get(name, 0.0) + time.perf_counter() - t0
        return r

    with torch.inference_mode():
        for rnd in range(args.rounds + 1):
            if rnd == 1:
                times.clear()  # the first round warms up
            for ev in evs:
                f = ev.features
                x = timed(
                    "to_device",
                    lambda: torch.from_numpy(
                        np.ascontiguousarray(f, dtype=np.float32)
                    ).to(dev),
                )
                e = timed("embed", p.embed, x)
                if cuda:
                    pairs = timed(
                        "frnn",
                        lambda: p.frnn.frnn_torch(e, p.radius, p.k_max).cpu().numpy(),
                    )
                else:
                    pairs = timed("frnn", p.frnn.frnn_cpu, e.numpy(), p.radius, p.k_max)
                edges = timed("orient", p.frnn.orient, pairs, f)
                s = timed(
                    "filter",
                    lambda: p.filter(x, torch.from_numpy(edges).to(dev)).cpu().numpy(),
                )
                kept = timed(
                    "applyfilter", p.applyfilter.applyfilter, edges, s, p.filter_cut
                )
                kt = torch.from_numpy(kept).to(dev)
                g = timed("gnn", p.gnn, x, kt)
                if cuda:
                    timed(
                        "wcc",
                        lambda: (
                            p.wcc.wcc_torch(len(f), kt, g, p.gnn_cut, p.best_edge)
                            .cpu()
                            .numpy()
                        ),
                    )
                else:
                    timed(
                        "wcc",
                        p.wcc.wcc,
                        len(f),
                        kept,
                        g.numpy(),
                        p.gnn_cut,
                        p.best_edge,
                    )
    n = args.rounds * len(evs)
    per = {k: round(v / n * 1000, 3) for k, v in times.items()}
    print(
        {
            "device": args.device,
            "ms_per_event": per,
            "total_ms": round(sum(per.values()), 2),
        }
    )


if __name__ == "__main__":
    main()
