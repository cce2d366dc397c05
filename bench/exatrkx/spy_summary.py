"""Summarises the py-spy samples of bench/exatrkx/gpu.sh step 4 (spy.tar.gz, or its folder).

For each worker (one raw file of collapsed stacks per pid): how many busy samples it had, and the
functions that held them, by self time and by inclusive time. A step worker's busy time per event
is what it adds to the served event over the direct pipeline's stage.

    python bench/exatrkx/spy_summary.py spy.tar.gz [--top 15]
"""

from __future__ import annotations

import argparse
import tarfile
from collections import Counter
from pathlib import Path


def stacks(source: Path) -> dict[str, list[tuple[list[str], int]]]:
    """pid -> [(frames outermost first, samples)] from the raw files."""
    out: dict[str, list[tuple[list[str], int]]] = {}

    def add(name: str, text: str) -> None:
        rows = []
        for line in text.splitlines():
            stack, _, n = line.rpartition(" ")
            if stack and n.isdigit():
                rows.append((stack.split(";"), int(n)))
        out[Path(name).stem] = rows

    if source.is_dir():
        for f in sorted(source.rglob("*.txt")):
            add(f.name, f.read_text(errors="replace"))
    else:
        with tarfile.open(source) as tar:
            for m in tar.getmembers():
                if m.isfile() and m.name.endswith(".txt"):
                    add(m.name, tar.extractfile(m).read().decode(errors="replace"))  # type: ignore[union-attr]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("source", type=Path)
    ap.add_argument("--top", type=int, default=15)
    args = ap.parse_args()
    for pid, rows in stacks(args.source).items():
        total = sum(n for _, n in rows)
        if total == 0:
            continue
        own: Counter[str] = Counter()
        incl: Counter[str] = Counter()
        # py-spy counts a thread blocked in the data socket's recv as busy: that is the worker
        # waiting for its next message, so it is set apart.
        waiting = sum(n for frames, n in rows if "recv_json" in frames[-1])
        rows = [(frames, n) for frames, n in rows if "recv_json" not in frames[-1]]
        total -= waiting
        if total == 0:
            continue
        for frames, n in rows:
            own[frames[-1]] += n
            for f in set(frames):
                incl[f] += n
        # The model file names the worker (model.py of frnn, wcc, ...; runner.py for TorchScript).
        models = {
            f.split("(")[-1].split(":")[0] for f, _ in incl.items() if "model.py" in f
        }
        print(
            f"== worker {pid}: {total} busy samples ({waiting} waiting for a message) {sorted(models) or ''}"
        )
        for f, n in own.most_common(args.top):
            print(f"  self {100 * n / total:5.1f}%  {f[:140]}")
        for f, n in incl.most_common(args.top):
            print(f"  incl {100 * n / total:5.1f}%  {f[:140]}")


if __name__ == "__main__":
    main()
