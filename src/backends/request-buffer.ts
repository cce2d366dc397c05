import type { RequestBuffer } from "../core/backend.js";
import { shm } from "./shm-addon.js";

/** Tensor data starts on a cache line: what SIMD loads, CUDA copies and pyarrow prefer. */
export const DATA_ALIGNMENT = 64;

let addressOf: ((b: ArrayBufferLike) => number) | undefined;
function baseAddress(buffer: ArrayBuffer): number {
  if (addressOf === undefined) {
    try {
      const addon = shm();
      addressOf = (b) => addon.address(b);
    } catch {
      addressOf = () => 0; // no addon (a JS-only install): V8's allocations are 16-byte aligned
    }
  }
  return addressOf(buffer);
}

/** How far into a buffer starting at `address` to begin so `alignAt` lands on the alignment. */
export function alignmentPad(address: number, alignAt: number): number {
  return (DATA_ALIGNMENT - ((address + alignAt) % DATA_ALIGNMENT)) % DATA_ALIGNMENT;
}

/**
 * A heap buffer for one request body whose `alignAt`-th byte is 64-byte aligned in memory, so a
 * native model's input pointer needs no alignment copy. Its own ArrayBuffer (not Node's pool),
 * uninitialised: the socket's bytes overwrite it all.
 */
export function heapRequestBuffer(byteLength: number, alignAt: number): RequestBuffer {
  const buffer = Buffer.allocUnsafeSlow(byteLength + DATA_ALIGNMENT).buffer as ArrayBuffer;
  const pad = alignmentPad(baseAddress(buffer), alignAt);
  return { bytes: new Uint8Array(buffer, pad, byteLength), release: () => undefined };
}

/**
 * Reuses large request buffers: a fresh 64 MiB allocation is fresh pages, and the kernel's page
 * faults and zeroing cost as much as the copy from the socket. Only for backends whose model
 * never keeps an input past its call (native code: inputs are valid during the call); buffers
 * come back when the response is written and go after `idleMs` without requests.
 */
export class RequestBufferPool {
  readonly #free: ArrayBuffer[] = [];
  readonly #ours = new WeakSet<ArrayBufferLike>();
  /** Buffers a running execution reads: returned to the pool only when it is done. */
  readonly #busy = new Map<ArrayBufferLike, number>();
  readonly #released = new Set<ArrayBufferLike>();
  readonly #maxBytes: number;
  readonly #idleMs: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(maxBytes = 512 << 20, idleMs = 2000) {
    this.#maxBytes = maxBytes;
    this.#idleMs = idleMs;
  }

  /** Pooled bytes (for tests). */
  get pooledBytes(): number {
    return this.#free.reduce((n, b) => n + b.byteLength, 0);
  }

  take(byteLength: number, alignAt: number): RequestBuffer {
    const need = byteLength + DATA_ALIGNMENT;
    // The smallest free buffer that fits without wasting more than half of it.
    let best = -1;
    this.#free.forEach((b, i) => {
      if (
        b.byteLength >= need &&
        b.byteLength <= 2 * need &&
        (best < 0 || b.byteLength < this.#free[best]!.byteLength)
      )
        best = i;
    });
    const buffer =
      best >= 0 ? this.#free.splice(best, 1)[0]! : (Buffer.allocUnsafeSlow(need).buffer as ArrayBuffer);
    this.#ours.add(buffer);
    const pad = alignmentPad(baseAddress(buffer), alignAt);
    let released = false;
    return {
      bytes: new Uint8Array(buffer, pad, byteLength),
      release: () => {
        if (released) return;
        released = true;
        if (this.#busy.has(buffer)) this.#released.add(buffer);
        else this.#give(buffer);
      },
    };
  }

  /**
   * Keeps the buffer under `bytes` out of the pool until the returned function is called: a
   * request answered early (cancelled, past its deadline) may still be read by its execution.
   */
  hold(bytes: Uint8Array): () => void {
    const buffer = bytes.buffer;
    if (!this.#ours.has(buffer)) return () => undefined;
    this.#busy.set(buffer, (this.#busy.get(buffer) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const n = (this.#busy.get(buffer) ?? 1) - 1;
      if (n > 0) {
        this.#busy.set(buffer, n);
        return;
      }
      this.#busy.delete(buffer);
      if (this.#released.delete(buffer)) this.#give(buffer as ArrayBuffer);
    };
  }

  #give(buffer: ArrayBuffer): void {
    if (buffer.byteLength < 1 << 20 || this.pooledBytes + buffer.byteLength > this.#maxBytes) return;
    this.#free.push(buffer);
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.clear(), this.#idleMs);
    this.#timer.unref();
  }

  clear(): void {
    clearTimeout(this.#timer);
    this.#free.length = 0;
  }
}
