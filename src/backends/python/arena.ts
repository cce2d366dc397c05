import { SharedMemoryExhaustedError } from "../../core/errors.js";
import { type ShmError, shm } from "../shm-addon.js";
import { formatBytes, sharedMemoryBudget } from "../shm-budget.js";
import { arenaPrefix, sweepSegments } from "../shm-names.js";
import type { SegmentInfo } from "./protocol.js";

const ALIGN = 64;
/** The idle size of an arena: one segment of this size stays when everything else is free. */
export const MIN_SEGMENT = 1 << 20;
const PAGE = 4096;
/** An empty segment goes this long after its last slot was freed (a burst's segments go). */
export const SHRINK_DELAY_MS = 2000;

const roundUp = (n: number, to: number) => Math.ceil(n / to) * to;

interface Segment {
  readonly id: number;
  readonly name: string;
  readonly buffer: ArrayBuffer;
  /** Free ranges [offset, length], sorted by offset, merged. */
  free: [number, number][];
  /** Slots in use: base offset -> length and holders (the request, an execution reading it). */
  readonly used: Map<number, { readonly size: number; refs: number }>;
  shrinkTimer: NodeJS.Timeout | undefined;
}

/** A slot of a SharedArena: `bytes` lies in segment `segment` at `offset`. */
export interface ArenaSlot {
  readonly segment: number;
  readonly offset: number;
  readonly bytes: Uint8Array;
  /** Frees the slot; idempotent. */
  release(): void;
}

export interface ArenaOptions {
  /** What the arena is for, in error messages ("inputs of model 'm'"). */
  readonly what: string;
  /** Cap on this arena's segments, in bytes (Infinity: only the server-wide cap applies). */
  readonly limitBytes: number;
  /** Told when an empty segment was dropped, so the workers that mapped it unmap it too. */
  readonly onDrop?: (id: number) => void;
}

/**
 * Shared memory the server writes a model's inputs into — request bodies read straight from
 * the socket, or inputs copied in — shared by all of the model's workers. First-fit slots,
 * freed explicitly when their request is answered. It grows by segments at least as large as
 * all the others together, within its cap and the server's; segments whose slots are all free
 * are dropped after SHRINK_DELAY_MS (all but one idle segment of MIN_SEGMENT bytes).
 *
 * Names stay linked while the server lives so that a restarted worker can map them; every name
 * starts with this arena's prefix (see shm-names.ts), which close() sweeps.
 */
export class SharedArena {
  readonly prefix = arenaPrefix();
  readonly #opts: ArenaOptions;
  readonly #segments = new Map<number, Segment>();
  readonly #byBuffer = new Map<ArrayBufferLike, Segment>();
  #nextId = 0;
  #closed = false;

  constructor(opts: ArenaOptions) {
    this.#opts = opts;
  }

  /** Bytes of shared memory in this arena's segments. */
  get byteLength(): number {
    let n = 0;
    for (const s of this.#segments.values()) n += s.buffer.byteLength;
    return n;
  }

  /** Live segments, for announcing to workers. */
  segments(): SegmentInfo[] {
    return [...this.#segments.values()].map((s) => ({ id: s.id, name: s.name, size: s.buffer.byteLength }));
  }

  has(id: number): boolean {
    return this.#segments.has(id);
  }

  /**
   * Where `bytes` lie in this arena, if they do (a request body read into a slot), holding their
   * slot until `release()`: a worker may still read a request the scheduler already answered
   * (cancelled, past its deadline), so the slot outlives whichever of the two ends last.
   */
  hold(bytes: Uint8Array): { segment: number; offset: number; release(): void } | undefined {
    const seg = this.#byBuffer.get(bytes.buffer);
    if (seg === undefined) return undefined;
    const start = bytes.byteOffset;
    for (const [base, slot] of seg.used) {
      if (start >= base && start + bytes.byteLength <= base + slot.size) {
        slot.refs++;
        return { segment: seg.id, offset: start, release: once(() => this.#free(seg, base)) };
      }
    }
    return undefined; // bytes of a slot already freed: the caller copies them
  }

  /** A slot of `byteLength` bytes whose `alignAt`-th byte is 64-byte aligned. */
  alloc(byteLength: number, alignAt = 0): ArenaSlot {
    if (this.#closed) throw new SharedMemoryExhaustedError(`the arena for ${this.#opts.what} is closed`);
    const pad = (ALIGN - (alignAt % ALIGN)) % ALIGN; // segments and slots start 64-byte aligned
    const size = roundUp(Math.max(pad + byteLength, 1), ALIGN);
    let found: { seg: Segment; offset: number } | undefined;
    for (const seg of this.#segments.values()) {
      const offset = takeFirstFit(seg, size);
      if (offset !== undefined) {
        found = { seg, offset };
        break;
      }
    }
    if (found === undefined) {
      const seg = this.#grow(size);
      found = { seg, offset: takeFirstFit(seg, size)! };
    }
    const { seg, offset } = found;
    clearTimeout(seg.shrinkTimer);
    seg.shrinkTimer = undefined;
    seg.used.set(offset, { size, refs: 1 });
    return {
      segment: seg.id,
      offset: offset + pad,
      bytes: new Uint8Array(seg.buffer, offset + pad, byteLength),
      release: once(() => this.#free(seg, offset)),
    };
  }

  #grow(size: number): Segment {
    const { what, limitBytes } = this.#opts;
    const total = this.byteLength;
    const need = roundUp(size, PAGE);
    if (total + need > limitBytes) {
      throw new SharedMemoryExhaustedError(
        `no shared memory for ${what}: ${formatBytes(need)} more would exceed its limit of ${formatBytes(limitBytes)} (${formatBytes(total)} in use)`,
      );
    }
    let want = roundUp(Math.max(MIN_SEGMENT, size, total), PAGE);
    if (total + want > limitBytes || !sharedMemoryBudget.fits(want)) want = need;
    sharedMemoryBudget.reserve(want, what);
    let created: { name: string; buffer: ArrayBuffer };
    try {
      created = shm().create(want, this.prefix);
    } catch (err) {
      sharedMemoryBudget.give(want);
      const code = (err as ShmError).code;
      if (code === "ENOSPC" || code === "ENOMEM") {
        throw new SharedMemoryExhaustedError(
          `no shared memory for ${what}: /dev/shm cannot hold ${formatBytes(want)} more (${code}); give the server a larger /dev/shm (docker run --shm-size, Kubernetes emptyDir {medium: Memory, sizeLimit}) or lower --shm-limit`,
        );
      }
      throw err;
    }
    const seg: Segment = {
      id: this.#nextId++,
      name: created.name,
      buffer: created.buffer,
      free: [[0, want]],
      used: new Map(),
      shrinkTimer: undefined,
    };
    this.#segments.set(seg.id, seg);
    this.#byBuffer.set(seg.buffer, seg);
    return seg;
  }

  #free(seg: Segment, offset: number): void {
    const slot = seg.used.get(offset);
    if (slot === undefined || !this.#segments.has(seg.id) || --slot.refs > 0) return;
    seg.used.delete(offset);
    insertFree(seg, offset, slot.size);
    if (this.#closed) {
      if (seg.used.size === 0) this.#drop(seg);
      return;
    }
    if (seg.used.size === 0 && seg.shrinkTimer === undefined) {
      seg.shrinkTimer = setTimeout(() => this.#maybeDrop(seg), SHRINK_DELAY_MS);
      seg.shrinkTimer.unref();
    }
  }

  #maybeDrop(seg: Segment): void {
    seg.shrinkTimer = undefined;
    if (seg.used.size > 0 || !this.#segments.has(seg.id)) return;
    const idle = this.#segments.size === 1 && seg.buffer.byteLength <= MIN_SEGMENT;
    if (!idle) this.#drop(seg);
  }

  #drop(seg: Segment): void {
    clearTimeout(seg.shrinkTimer);
    this.#segments.delete(seg.id);
    this.#byBuffer.delete(seg.buffer);
    unlinkQuietly(seg.name);
    sharedMemoryBudget.give(seg.buffer.byteLength);
    shm().unmap(seg.buffer);
    this.#opts.onDrop?.(seg.id);
  }

  /**
   * Unlinks everything and sweeps the prefix (a segment half-created by a crash); unmaps each
   * segment once none of its slots is lent. A slot may still be receiving a request body (the
   * HTTP frontend reads it straight from the socket into the slot) when the model unloads:
   * its segment stays mapped until that request lets go of it, then goes.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const seg of [...this.#segments.values()]) {
      if (seg.used.size === 0) this.#drop(seg);
      else unlinkQuietly(seg.name);
    }
    sweepSegments(this.prefix);
  }
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}

function takeFirstFit(seg: Segment, size: number): number | undefined {
  for (let i = 0; i < seg.free.length; i++) {
    const [off, len] = seg.free[i]!;
    if (len < size) continue;
    if (len === size) seg.free.splice(i, 1);
    else seg.free[i] = [off + size, len - size];
    return off;
  }
  return undefined;
}

function insertFree(seg: Segment, offset: number, size: number): void {
  const free = seg.free;
  let i = 0;
  while (i < free.length && free[i]![0] < offset) i++;
  free.splice(i, 0, [offset, size]);
  // merge with the next, then with the previous
  const next = free[i + 1];
  if (next !== undefined && offset + size === next[0]) {
    free[i] = [offset, size + next[1]];
    free.splice(i + 1, 1);
  }
  const prev = free[i - 1];
  if (prev !== undefined && prev[0] + prev[1] === offset) {
    free[i - 1] = [prev[0], prev[1] + free[i]![1]];
    free.splice(i, 1);
  }
}

/** Output segments of every Python worker, by the server's mapping: name, and who mapped it by name. */
const sharedOutputs = new WeakMap<ArrayBufferLike, string>();
const droppedListeners = new Map<string, (() => void)[]>();

/**
 * The name of the worker output segment `view` lies in (undefined: not one). Another worker can
 * map that segment by name and read the view in place (an ensemble step's input that is the
 * previous step's output), as long as the output's slot is held (pinOutputView).
 */
export function sharedOutputName(view: Uint8Array): string | undefined {
  return sharedOutputs.get(view.buffer);
}

/**
 * Calls `fn` once, when the output segment `name` is dropped (its worker unmaps it, or is gone).
 * Returns the way to stop listening (the listener is gone, a stopped model's worker).
 */
export function onSharedOutputDropped(name: string, fn: () => void): () => void {
  const list = droppedListeners.get(name);
  if (list === undefined) droppedListeners.set(name, [fn]);
  else list.push(fn);
  return () => {
    const now = droppedListeners.get(name);
    const i = now?.indexOf(fn) ?? -1;
    if (i >= 0) now!.splice(i, 1);
    if (now?.length === 0) droppedListeners.delete(name);
  };
}

function dropped(buffer: ArrayBuffer, name: string): void {
  sharedOutputs.delete(buffer);
  const list = droppedListeners.get(name);
  droppedListeners.delete(name);
  for (const fn of list ?? []) fn();
}

/**
 * The worker's output segments, mapped by the server. A segment is unmapped when the worker
 * says it dropped it (all its slots released), so the server's RSS and /dev/shm shrink with it.
 * Names stay linked until then, so that other workers can map a segment to read an output in
 * place; they carry the worker's prefix, which the server sweeps when the worker exits.
 */
export class OutputSegments {
  readonly #segments = new Map<number, { readonly buffer: ArrayBuffer; readonly name: string }>();

  /** Maps segments the worker announced; returns their names. */
  map(segments: readonly SegmentInfo[]): string[] {
    for (const s of segments) {
      const buffer = shm().open(s.name);
      this.#segments.set(s.id, { buffer, name: s.name });
      sharedOutputs.set(buffer, s.name);
      sharedMemoryBudget.add(buffer.byteLength); // counted against the server-wide cap
    }
    return segments.map((s) => s.name);
  }

  /** Unmaps segments the worker dropped, and unlinks their names. */
  unmap(ids: readonly number[]): void {
    for (const id of ids) {
      const seg = this.#segments.get(id);
      if (seg === undefined) continue;
      this.#segments.delete(id);
      sharedMemoryBudget.give(seg.buffer.byteLength);
      unlinkQuietly(seg.name);
      dropped(seg.buffer, seg.name);
      shm().unmap(seg.buffer);
    }
  }

  /** Bytes of the worker's shared memory mapped here. */
  get byteLength(): number {
    let n = 0;
    for (const s of this.#segments.values()) n += s.buffer.byteLength;
    return n;
  }

  view(segment: number, offset: number, length: number): Uint8Array {
    const buffer = this.#segments.get(segment)?.buffer;
    if (buffer === undefined || offset + length > buffer.byteLength) {
      throw new RangeError(`worker output slot ${segment}:${offset}+${length} is outside its arena`);
    }
    return new Uint8Array(buffer, offset, length);
  }

  /**
   * Forgets everything (the worker is gone; its names are swept with its prefix). Not unmapped
   * here: a response may still be writing its outputs; each mapping goes when its last view is
   * collected.
   */
  clear(): void {
    for (const s of this.#segments.values()) {
      sharedMemoryBudget.give(s.buffer.byteLength);
      dropped(s.buffer, s.name);
    }
    this.#segments.clear();
  }
}

function unlinkQuietly(name: string): void {
  try {
    shm().unlink(name);
  } catch (err) {
    if ((err as ShmError).code !== "ENOENT") throw err;
  }
}
