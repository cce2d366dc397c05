// Scores the service's tracks against the generator's truth, with the definitions of the C++
// driver and the Python client (README.md): nearest truth hit of the module within 3 pitches,
// majority particle >= 50% of a track's measurements, pT > 1 GeV and >= 5 hits selected.
import type { PitchTable, TracccEvent } from "./events.js";

export interface TrackOutputs {
  readonly trkParams: Float32Array; // [T, 8]
  readonly measurements: Float32Array; // [M, 6]
  readonly geometryIds: BigInt64Array; // [M], 0 between tracks
}

export interface Physics {
  selected: number;
  found: number;
  tracks: number;
  fakes: number;
  duplicates: number;
}

export function emptyPhysics(): Physics {
  return { selected: 0, found: 0, tracks: 0, fakes: 0, duplicates: 0 };
}

export function addPhysics(a: Physics, b: Physics): void {
  a.selected += b.selected;
  a.found += b.found;
  a.tracks += b.tracks;
  a.fakes += b.fakes;
  a.duplicates += b.duplicates;
}

export const rates = (p: Physics) => ({
  efficiency: p.selected ? p.found / p.selected : 0,
  fakeRate: p.tracks ? p.fakes / p.tracks : 0,
  duplicateRate: p.tracks ? p.duplicates / p.tracks : 0,
});

const P_COLUMNS = 8;
const P_ID = 0;
const P_PT = 2;
const P_NHITS = 6;

export function evaluate(
  ev: TracccEvent,
  out: TrackOutputs,
  pitch: PitchTable,
  ptMin = 1,
  minHits = 5,
): Physics {
  const hitIds = ev.arrays.hit_ids.data as BigInt64Array;
  const hitLocal = ev.arrays.hit_local.data as Float32Array;
  const byModule = new Map<bigint, number[]>();
  for (let h = 0; h < hitIds.length / 2; h++) {
    const g = hitIds[2 * h]!;
    const list = byModule.get(g);
    if (list) list.push(h);
    else byModule.set(g, [h]);
  }
  const nTracks = out.trkParams.length / 8;
  const pc: Physics = { ...emptyPhysics(), tracks: nTracks };
  const tracksOf = new Map<bigint, number>();
  let row = 0;
  for (let t = 0; t < nTracks; t++) {
    const votes = new Map<bigint, number>();
    let n = 0;
    for (; row < out.geometryIds.length && out.geometryIds[row] !== 0n; row++, n++) {
      const gid = out.geometryIds[row]!;
      const hits = byModule.get(gid);
      const p = pitch.get(Number(BigInt.asUintN(64, gid) >> 56n));
      if (!hits || !p) continue;
      const u = out.measurements[row * 6]!;
      const v = out.measurements[row * 6 + 1]!;
      let best = 9;
      let who = -1n;
      for (const h of hits) {
        const du = (hitLocal[2 * h]! - u) / p[0];
        const dv = (hitLocal[2 * h + 1]! - v) / p[1];
        const d2 = du * du + dv * dv;
        if (d2 < best) {
          best = d2;
          who = hitIds[2 * h + 1]!;
        }
      }
      if (who >= 0n) votes.set(who, (votes.get(who) ?? 0) + 1);
    }
    row++; // the separator
    let owner = 0n;
    let most = 0;
    for (const [p, c] of votes)
      if (p !== 0n && (c > most || (c === most && p < owner))) {
        most = c;
        owner = p;
      }
    if (owner === 0n || 2 * most < n) {
      pc.fakes++;
      continue;
    }
    const seen = tracksOf.get(owner) ?? 0;
    if (seen > 0) pc.duplicates++;
    tracksOf.set(owner, seen + 1);
  }
  const parts = ev.arrays.particles.data as Float64Array;
  for (let p = 0; p < parts.length / P_COLUMNS; p++) {
    if (parts[p * P_COLUMNS + P_PT]! <= ptMin || parts[p * P_COLUMNS + P_NHITS]! < minHits) continue;
    pc.selected++;
    if (tracksOf.has(BigInt(parts[p * P_COLUMNS + P_ID]!))) pc.found++;
  }
  return pc;
}
