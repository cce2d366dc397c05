import type { SegmentInfo } from "./protocol.js";
import { type ShmError, shm } from "./shm-addon.js";

const ALIGN = 64;
const MIN_SEGMENT = 1 << 20;
const PAGE = 4096;

const roundUp = (n: number, to: number) => Math.ceil(n / to) * to;

interface Segment {
  readonly id: number;
  readonly name: string;
  readonly buffer: ArrayBuffer;
  cursor: number;
}

/** A slot the server writes a call into. */
export interface InputSlot {
  readonly segment: number;
  readonly offset: number;
  readonly bytes: Uint8Array;
}

/**
 * The segments the server writes a worker's inputs into. One batch is in flight per worker,
 * so the arena is a bump allocator reset before each batch; it grows by adding a segment at
 * least as large as all the others together. New segments are announced with the next batch;
 * the worker maps them and unlinks their names.
 */
export class InputArena {
  readonly #segments: Segment[] = [];
  #announce: SegmentInfo[] = [];
  #closed = false;

  /** Bytes of shared memory mapped for inputs. */
  get byteLength(): number {
    return this.#segments.reduce((n, s) => n + s.buffer.byteLength, 0);
  }

  /** Forgets the previous batch: its slots are free again. */
  reset(): void {
    for (const s of this.#segments) s.cursor = 0;
  }

  alloc(byteLength: number): InputSlot {
    const size = roundUp(Math.max(byteLength, 1), ALIGN);
    let seg = this.#segments.find((s) => s.buffer.byteLength - s.cursor >= size);
    if (seg === undefined) {
      const total = this.#segments.reduce((n, s) => n + s.buffer.byteLength, 0);
      const { name, buffer } = shm().create(roundUp(Math.max(MIN_SEGMENT, size, total), PAGE));
      seg = { id: this.#segments.length, name, buffer, cursor: 0 };
      this.#segments.push(seg);
      this.#announce.push({ id: seg.id, name, size: buffer.byteLength });
    }
    const offset = seg.cursor;
    seg.cursor += size;
    return { segment: seg.id, offset, bytes: new Uint8Array(seg.buffer, offset, byteLength) };
  }

  /** Segments to announce with the next batch. */
  takeAnnouncements(): SegmentInfo[] {
    const out = this.#announce;
    this.#announce = [];
    return out;
  }

  /** The worker answered a batch that announced `segments`: it has mapped and unlinked them. */
  confirm(segments: readonly SegmentInfo[]): void {
    for (const s of segments) unlinkQuietly(s.name);
  }

  /** Unlinks names a worker never confirmed and unmaps everything (only the server views inputs). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.#segments) {
      unlinkQuietly(s.name);
      shm().unmap(s.buffer);
    }
    this.#segments.length = 0;
    this.#announce = [];
  }
}

/**
 * The worker's output segments, mapped by the server. They are never unmapped explicitly:
 * response tensors view them, and each mapping goes when the last view is collected.
 */
export class OutputSegments {
  readonly #segments = new Map<number, ArrayBuffer>();

  /** Maps segments the worker announced, then unlinks their names; returns the names. */
  map(segments: readonly SegmentInfo[]): string[] {
    for (const s of segments) {
      this.#segments.set(s.id, shm().open(s.name));
      unlinkQuietly(s.name);
    }
    return segments.map((s) => s.name);
  }

  /** Bytes of the worker's shared memory mapped here. */
  get byteLength(): number {
    let n = 0;
    for (const b of this.#segments.values()) n += b.byteLength;
    return n;
  }

  view(segment: number, offset: number, length: number): Uint8Array {
    const buffer = this.#segments.get(segment);
    if (buffer === undefined || offset + length > buffer.byteLength) {
      throw new RangeError(`worker output slot ${segment}:${offset}+${length} is outside its arena`);
    }
    return new Uint8Array(buffer, offset, length);
  }

  clear(): void {
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
