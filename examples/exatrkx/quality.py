"""Tracking quality of the pipeline against truth at several pile-ups, and the efficiency-vs-pT figure.

    .venv/bin/python examples/exatrkx/quality.py --mu 20,200 --events 20,3 [--png examples/exatrkx/efficiency_vs_pt.png]

Runs the six stages directly (the served answers equal these; client.py checks it), prints one
row per mu (efficiency, fake and duplicate rates for pT > 1 GeV, points and edges per event, ms
per event) and, with --png, plots the efficiency against pT (needs matplotlib).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from exatrkx.events import generate
from exatrkx.physics import Quality, score
from exatrkx.pipeline import Pipeline

BINS = [1, 1.5, 2, 3, 5, 10, 100]


def measure(pipeline: Pipeline, mu: float, events: int, seed: int) -> tuple[Quality, dict]:
    q = Quality()
    points, seconds = [], []
    for ev in generate(mu, events, seed=seed):
        t = time.perf_counter()
        labels = pipeline(ev.features)
        seconds.append(time.perf_counter() - t)
        points.append(ev.n)
        q.add(score(ev, labels))
    row = {
        "mu": mu,
        "events": events,
        "points_per_event": round(float(np.mean(points))),
        "efficiency": round(q.efficiency, 4),
        "found": q.found,
        "particles": q.particles,
        "fake_rate": round(q.fake_rate, 4),
        "duplicate_rate": round(q.duplicate_rate, 4),
        "tracks_per_event": round(q.tracks / events, 1),
        "ms_per_event": round(1000 * float(np.median(seconds)), 1),
    }
    return q, row


def plot(results: list[tuple[float, Quality]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    centres = [(a * b) ** 0.5 for a, b in zip(BINS[:-1], BINS[1:])]
    for mu, q in results:
        pt = np.array([p for p, _ in q.per_particle])
        found = np.array([f for _, f in q.per_particle], dtype=float)
        idx = np.digitize(pt, BINS) - 1
        eff, err = [], []
        for b in range(len(BINS) - 1):
            sel = found[idx == b]
            e = sel.mean() if len(sel) else np.nan
            eff.append(e)
            err.append(np.sqrt(e * (1 - e) / len(sel)) if len(sel) else 0)
        ax.errorbar(centres, eff, yerr=err, marker="o", capsize=3, label=f"μ = {mu:g} ({len(pt)} particles)")
    ax.set_xscale("log")
    ax.set_xticks(BINS[:-1] + [30], [f"{b:g}" for b in BINS[:-1]] + ["30"])
    ax.minorticks_off()
    ax.set_xlabel("particle pT [GeV]")
    ax.set_ylabel("track efficiency")
    ax.set_ylim(0, 1.02)
    ax.axhline(0.9, color="grey", lw=0.8, ls="--")
    ax.set_title("ExaTrkX-style pipeline: efficiency vs pT (double-majority match)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mu", default="20,200", help="comma-separated pile-ups")
    ap.add_argument("--events", default="20,3", help="events per pile-up (comma-separated, or one for all)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--png", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    mus = [float(m) for m in args.mu.split(",")]
    counts = [int(n) for n in args.events.split(",")]
    counts = counts * len(mus) if len(counts) == 1 else counts
    pipeline = Pipeline(device=args.device)
    results, rows = [], []
    for mu, n in zip(mus, counts):
        q, row = measure(pipeline, mu, n, args.seed)
        results.append((mu, q))
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.png:
        plot(results, args.png)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
