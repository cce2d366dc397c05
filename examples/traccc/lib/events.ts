// Events written by traccc-gen: a directory of eventNNNNNNNNN-<array>.npy files with a
// meta.json, or a stream of the same arrays back to back.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type NpyArray, parseNpy, parseNpyStream } from "./npy.js";

export const EVENT_ARRAYS = [
  "cell_positions",
  "cell_properties",
  "hit_ids",
  "hit_local",
  "particles",
] as const;
type ArrayName = (typeof EVENT_ARRAYS)[number];

export interface TracccEvent {
  readonly index: number;
  readonly arrays: Readonly<Record<ArrayName, NpyArray>>;
}

/** Pitch (mm) per geometry-id volume, for truth matching. */
export type PitchTable = ReadonlyMap<number, readonly [number, number]>;

export const DEFAULT_PITCH: PitchTable = new Map([
  [17, [0.05, 0.05]],
  [24, [0.08, 1.0]],
]);

interface Meta {
  first: number;
  events: number;
  layers: { volume: number; pitch0: number; pitch1: number }[];
}

export function readEventDir(dir: string, limit?: number): { events: TracccEvent[]; pitch: PitchTable } {
  const meta = JSON.parse(readFileSync(join(dir, "meta.json"), "utf8")) as Meta;
  const n = Math.min(meta.events, limit ?? Number.POSITIVE_INFINITY);
  const events: TracccEvent[] = [];
  for (let i = meta.first; i < meta.first + n; i++) {
    const name = `event${String(i).padStart(9, "0")}`;
    const arrays = Object.fromEntries(
      EVENT_ARRAYS.map((a) => [a, parseNpy(readFileSync(join(dir, `${name}-${a}.npy`))).array]),
    ) as Record<ArrayName, NpyArray>;
    events.push({ index: i, arrays });
  }
  const pitch = new Map(DEFAULT_PITCH);
  for (const l of meta.layers) pitch.set(l.volume, [l.pitch0, l.pitch1]);
  return { events, pitch };
}

export function eventsFromStream(buf: Uint8Array, limit?: number): TracccEvent[] {
  const arrays = parseNpyStream(buf);
  if (arrays.length % EVENT_ARRAYS.length !== 0) throw new Error("event stream: incomplete last event");
  const events: TracccEvent[] = [];
  for (let k = 0; k * EVENT_ARRAYS.length < arrays.length && events.length < (limit ?? Infinity); k++) {
    const group = arrays.slice(k * EVENT_ARRAYS.length, (k + 1) * EVENT_ARRAYS.length);
    events.push({
      index: k,
      arrays: Object.fromEntries(EVENT_ARRAYS.map((a, i) => [a, group[i]!])) as Record<ArrayName, NpyArray>,
    });
  }
  return events;
}
