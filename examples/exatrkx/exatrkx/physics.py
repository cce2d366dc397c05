"""Tracking quality against truth, as the issue defines it.

A track is a label carried by at least `min_hits` space points. A particle with pT > `pt_min`
and at least `min_hits` space points is *found* when some label holds >= 50% of its points and
>= 50% of that label's points are the particle's (double majority). A track is *fake* when no
particle holds >= 50% of its points (noise is no particle); a *duplicate* when its majority
particle already has a better track (more of its points). Rates are over tracks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .events import P_ID, P_PT, Event


@dataclass
class Quality:
    particles: int = 0  # particles of interest (pT > pt_min, >= min_hits points)
    found: int = 0
    tracks: int = 0
    fakes: int = 0
    duplicates: int = 0
    # per particle of interest: (pT, found) for efficiency-vs-pT plots
    per_particle: list[tuple[float, bool]] = field(default_factory=list)

    def add(self, other: Quality) -> Quality:
        self.particles += other.particles
        self.found += other.found
        self.tracks += other.tracks
        self.fakes += other.fakes
        self.duplicates += other.duplicates
        self.per_particle += other.per_particle
        return self

    @property
    def efficiency(self) -> float:
        return self.found / self.particles if self.particles else 0.0

    @property
    def fake_rate(self) -> float:
        return self.fakes / self.tracks if self.tracks else 0.0

    @property
    def duplicate_rate(self) -> float:
        return self.duplicates / self.tracks if self.tracks else 0.0

    def summary(self) -> str:
        return (
            f"efficiency {self.efficiency:.4f} ({self.found}/{self.particles}), "
            f"fake rate {self.fake_rate:.4f}, duplicate rate {self.duplicate_rate:.4f} ({self.tracks} tracks)"
        )


def score(event: Event, labels: np.ndarray, pt_min: float = 1.0, min_hits: int = 5) -> Quality:
    pid = event.particle_id
    labels = np.asarray(labels, dtype=np.int64)
    if labels.shape != pid.shape:
        raise ValueError(f"{labels.shape[0]} labels for {pid.shape[0]} space points")
    # Points per (label, particle), per label, per particle.
    pairs, counts = np.unique(np.stack([labels, pid]), axis=1, return_counts=True)
    lab, lab_counts = np.unique(labels, return_counts=True)
    part, part_counts = np.unique(pid, return_counts=True)
    n_label = dict(zip(lab.tolist(), lab_counts.tolist()))
    n_part = dict(zip(part.tolist(), part_counts.tolist()))

    q = Quality()
    best: dict[int, int] = {}  # label -> points of its majority particle (0 when none)
    owner: dict[int, int] = {}  # label -> majority particle
    matched: set[int] = set()
    for (label, particle), c in zip(pairs.T.tolist(), counts.tolist()):
        if particle != 0 and c > best.get(label, 0):
            best[label], owner[label] = c, particle
        if particle != 0 and 2 * c >= n_part[particle] and 2 * c >= n_label[label]:
            matched.add(particle)

    by_particle: dict[int, list[int]] = {}
    for label, n in n_label.items():
        if n < min_hits:
            continue
        q.tracks += 1
        if 2 * best.get(label, 0) < n:
            q.fakes += 1
        else:
            by_particle.setdefault(owner[label], []).append(best[label])
    q.duplicates = sum(len(v) - 1 for v in by_particle.values())

    pt = dict(
        zip(
            event.particles[:, P_ID].astype(np.int64).tolist(),
            event.particles[:, P_PT].tolist(),
        )
    )
    for particle, n in n_part.items():
        if particle == 0 or n < min_hits or pt.get(particle, 0.0) <= pt_min:
            continue
        q.particles += 1
        found = particle in matched
        q.found += found
        q.per_particle.append((pt[particle], found))
    return q
