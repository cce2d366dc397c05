// Tracking quality against truth, exactly as exatrkx/physics.py computes it (see there).

export interface Quality {
  particles: number;
  found: number;
  tracks: number;
  fakes: number;
  duplicates: number;
}

const P_COLUMNS = 8; // id, charge, pT, eta, phi, vz, n_hits, vertex

export function score(
  particleId: BigInt64Array,
  particles: Float64Array,
  labels: BigInt64Array,
  ptMin = 1.0,
  minHits = 5,
): Quality {
  const perLabel = new Map<bigint, number>();
  const perParticle = new Map<bigint, number>();
  const pairs = new Map<bigint, Map<bigint, number>>(); // label -> particle -> points
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    const p = particleId[i]!;
    perLabel.set(l, (perLabel.get(l) ?? 0) + 1);
    perParticle.set(p, (perParticle.get(p) ?? 0) + 1);
    const m = pairs.get(l) ?? new Map<bigint, number>();
    pairs.set(l, m);
    m.set(p, (m.get(p) ?? 0) + 1);
  }
  const q: Quality = { particles: 0, found: 0, tracks: 0, fakes: 0, duplicates: 0 };
  const matched = new Set<bigint>();
  const tracksOf = new Map<bigint, number>();
  for (const [label, counts] of pairs) {
    const n = perLabel.get(label)!;
    let best = 0;
    let owner = 0n;
    for (const [particle, c] of counts) {
      if (particle === 0n) continue;
      if (c > best) [best, owner] = [c, particle];
      if (2 * c >= perParticle.get(particle)! && 2 * c >= n) matched.add(particle);
    }
    if (n < minHits) continue;
    q.tracks++;
    if (2 * best < n) q.fakes++;
    else tracksOf.set(owner, (tracksOf.get(owner) ?? 0) + 1);
  }
  for (const t of tracksOf.values()) q.duplicates += t - 1;
  const pt = new Map<bigint, number>();
  for (let r = 0; r < particles.length / P_COLUMNS; r++)
    pt.set(BigInt(particles[r * P_COLUMNS]!), particles[r * P_COLUMNS + 2]!);
  for (const [particle, n] of perParticle) {
    if (particle === 0n || n < minHits || (pt.get(particle) ?? 0) <= ptMin) continue;
    q.particles++;
    if (matched.has(particle)) q.found++;
  }
  return q;
}
