"""Writes events for the TypeScript client: per event the space points, their truth and the
direct pipeline's labels, as .npy files (features FP32 [n,3], particle_id INT64 [n], particles
FP64 [P,8], labels INT64 [n]).

    python examples/exatrkx/make_events.py --mu 20 --events 10 --out /tmp/exatrkx-mu20
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from exatrkx.events import generate
from exatrkx.pipeline import Pipeline


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mu", type=float, default=20)
    ap.add_argument("--events", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    pipeline = Pipeline()
    for i, ev in enumerate(generate(args.mu, args.events, seed=args.seed)):
        for name, array in (
            ("features", ev.features),
            ("particle_id", ev.particle_id),
            ("particles", ev.particles),
            ("labels", pipeline(ev.features)),
        ):
            np.save(args.out / f"event{i:09d}-{name}.npy", np.ascontiguousarray(array))
    print(f"wrote {args.events} events (mu {args.mu:g}, seed {args.seed}) to {args.out}")


if __name__ == "__main__":
    main()
