"""Events for the ExaTrkX example: the traccc example's generator, turned into space points.

`traccc-gen` (examples/traccc, built by `npm run build:traccc`) writes cells and their truth.
A space point here is one truth hit's cluster: the charge-weighted centre of the cells whose
`measurement_id` names that hit, moved from module-local to global coordinates with the layer
table that the generator writes to meta.json. Its truth particle is the hit's (0 for noise).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
ARRAYS = ("cell_positions", "cell_properties", "hit_ids", "hit_local", "particles")
# Columns of the generator's particle table (meta.json's particle_columns).
P_ID, P_CHARGE, P_PT, P_ETA, P_PHI, P_VZ, P_NHITS, P_VERTEX = range(8)


@dataclass
class Event:
    """One event's space points and truth."""

    features: np.ndarray  # FP32 [N, 3]: r/1000, phi/pi, z/1000 (mm)
    particle_id: np.ndarray  # INT64 [N]: truth particle of each space point, 0 for noise
    particles: np.ndarray  # FP64 [P, 8]: id, charge, pT, eta, phi, vz, n_hits, vertex

    @property
    def n(self) -> int:
        return len(self.features)


def generator_path() -> Path:
    """traccc-gen: $TRACCC_GEN, else the build of the traccc example."""
    path = Path(os.environ.get("TRACCC_GEN", ROOT / "examples/traccc/build/core/traccc-gen"))
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `npm run build:traccc` (or set TRACCC_GEN)")
    return path


def generate(mu: float, events: int, seed: int = 1, first: int = 0) -> Iterator[Event]:
    """Events `first`..`first+events-1` of the stream (seed, mu): a pure function of those."""
    with tempfile.TemporaryDirectory(prefix="exatrkx-events-") as tmp:
        cmd = [
            str(generator_path()),
            "--mu",
            str(mu),
            "--events",
            str(events),
            "--first",
            str(first),
        ]
        cmd += ["--seed", str(seed), "--out", tmp]
        done = subprocess.run(
            cmd,
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr.strip()}")
        yield from read_dir(tmp)


def read_dir(directory: str | Path) -> Iterator[Event]:
    """The events of a `traccc-gen --out` directory, in order."""
    d = Path(directory)
    meta = json.loads((d / "meta.json").read_text())
    layers = meta["layers"]
    for i in range(meta["first"], meta["first"] + meta["events"]):
        arrays = {a: np.load(d / f"event{i:09d}-{a}.npy") for a in ARRAYS}
        yield space_points(arrays, layers)


def space_points(arrays: dict[str, np.ndarray], layers: list[dict]) -> Event:
    """One space point per truth hit that made cells (charge-weighted cluster centre)."""
    cells = arrays["cell_positions"]
    charge = arrays["cell_properties"][:, 1].astype(np.float64)
    hit_ids = arrays["hit_ids"]
    gid, hit, ch0, ch1 = (cells[:, k] for k in range(4))

    # Layer of each cell from its geometry id (volume << 56 | layer << 36 | sensitive).
    volume, layer_field, sensitive = gid >> 56, (gid >> 36) & 0xFFF, gid & 0xFFFFF
    layer = np.full(len(cells), -1)
    for i, lay in enumerate(layers):
        layer[(volume == lay["volume"]) & (layer_field == lay["layer"])] = i
    if (layer < 0).any():
        raise ValueError("a cell's geometry id names no layer of meta.json")
    table = {k: np.array([lay[k] for lay in layers], dtype=np.float64) for k in layers[0]}
    n_phi, n_z, r = table["n_phi"][layer], table["n_z"][layer], table["r"][layer]
    half_z, p0, p1 = (
        table["half_z"][layer],
        table["pitch0"][layer],
        table["pitch1"][layer],
    )
    local = sensitive - 1
    iphi, iz = local % n_phi, local // n_phi
    loc0 = (ch0 + 0.5 - 0.5 * table["n_ch0"][layer]) * p0
    loc1 = (ch1 + 0.5 - 0.5 * table["n_ch1"][layer]) * p1
    # Global phi and z of each cell: module centre plus local offset (detector.hpp's to_global).
    phi = -np.pi + (iphi + 0.5) * (2 * np.pi / n_phi) + loc0 / r
    z = -half_z + (iz + 0.5) * (2 * half_z / n_z) + loc1

    # Charge-weighted mean per hit; phi is averaged as an offset from the cluster's first cell.
    hits, inverse = np.unique(hit, return_inverse=True)
    w = np.bincount(inverse, charge)
    first_phi = phi[np.unique(inverse, return_index=True)[1]]
    dphi = np.angle(np.exp(1j * (phi - first_phi[inverse])))
    phi_c = np.angle(np.exp(1j * (first_phi + np.bincount(inverse, charge * dphi) / w)))
    z_c = np.bincount(inverse, charge * z) / w
    r_c = np.bincount(inverse, r) / np.bincount(inverse)
    features = np.stack([r_c / 1000.0, phi_c / np.pi, z_c / 1000.0], axis=1).astype(np.float32)
    return Event(features, hit_ids[hits, 1].astype(np.int64), arrays["particles"])


def read_saved(directory: str | Path) -> tuple[list[Event], list[np.ndarray | None]]:
    """Events written by make_events.py (no generator needed), with the labels saved beside them."""
    d = Path(directory)
    stems = sorted(str(p)[: -len("-features.npy")] for p in d.glob("event*-features.npy"))
    if not stems:
        raise FileNotFoundError(f"no event*-features.npy in {d} (make_events.py writes them)")
    events = [
        Event(np.load(f"{s}-features.npy"), np.load(f"{s}-particle_id.npy"), np.load(f"{s}-particles.npy"))
        for s in stems
    ]
    labels = [np.load(f"{s}-labels.npy") if Path(f"{s}-labels.npy").exists() else None for s in stems]
    return events, labels
