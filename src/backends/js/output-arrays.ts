import { DATATYPES, type NumericArray } from "../../core/datatypes.js";
import { InternalError } from "../../core/errors.js";
import { elementCount } from "../../core/shape.js";
import type { ModelSpec } from "../../core/spec.js";

/** Outputs smaller than this are fresh arrays (the heap reuses those cheaply anyway). */
const POOLED_BYTES = 64 * 1024;

/**
 * The memory of `ctx.output()` arrays, reused from request to request: a fresh large typed array
 * is fresh pages that the kernel faults in and V8 zero-fills (2 × 16 384 faults per 64 MiB
 * output, bench/large-tensors/cpu.mjs). A buffer comes back when the response that carries it has
 * been written (InferResponse.release) and is lent again; free buffers go after `idleMs` and
 * beyond `maxBytes`. A buffer whose release never comes (an in-process infer() caller) is simply
 * left to the collector.
 */
export class OutputArrayPool {
  readonly #free = new Map<number, ArrayBuffer[]>();
  readonly #maxBytes: number;
  readonly #idleMs: number;
  #freeBytes = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(maxBytes = 512 << 20, idleMs = 2000) {
    this.#maxBytes = maxBytes;
    this.#idleMs = idleMs;
  }

  /** Bytes of free buffers held (for tests). */
  get freeBytes(): number {
    return this.#freeBytes;
  }

  take(byteLength: number): ArrayBuffer {
    const list = this.#free.get(byteLength);
    const b = list?.pop();
    if (b === undefined) return new ArrayBuffer(byteLength);
    this.#freeBytes -= byteLength;
    return b;
  }

  give(buffer: ArrayBuffer): void {
    if ((buffer as { detached?: boolean }).detached || this.#freeBytes + buffer.byteLength > this.#maxBytes)
      return;
    const list = this.#free.get(buffer.byteLength);
    if (list === undefined) this.#free.set(buffer.byteLength, [buffer]);
    else list.push(buffer);
    this.#freeBytes += buffer.byteLength;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.clear(), this.#idleMs);
    this.#timer.unref();
  }

  clear(): void {
    clearTimeout(this.#timer);
    this.#free.clear();
    this.#freeBytes = 0;
  }
}

/**
 * The arrays one call took with `ctx.output()`: `output` makes them, `settle` says which the
 * result carries (given back when its response is written) and gives the others back now.
 */
export class OutputLease {
  readonly #pool: OutputArrayPool;
  readonly #spec: ModelSpec;
  readonly #taken: ArrayBuffer[] = [];

  constructor(pool: OutputArrayPool, spec: ModelSpec) {
    this.#pool = pool;
    this.#spec = spec;
  }

  /** A typed array of output `name`'s datatype holding `shape`, valid until the response is written. */
  output(name: string, shape: readonly number[]): NumericArray {
    const spec = this.#spec.outputs[name];
    if (spec === undefined)
      throw new InternalError(`model '${this.#spec.name}': ctx.output('${name}'): no such output`);
    const info = DATATYPES[spec.datatype];
    if (info.array === undefined)
      throw new InternalError(
        `model '${this.#spec.name}': ctx.output('${name}'): ${spec.datatype} has no typed array`,
      );
    const count = elementCount(shape, `output '${name}'`);
    const bytes = count * info.size;
    if (bytes < POOLED_BYTES) return new info.array(count) as NumericArray;
    const buffer = this.#pool.take(bytes);
    this.#taken.push(buffer);
    return new info.array(buffer, 0, count) as NumericArray;
  }

  /** Gives back now what `carried` does not hold; returns the release of the rest, if any. */
  settle(carried: ReadonlySet<ArrayBufferLike>): (() => void) | undefined {
    const kept = this.#taken.filter((b) => carried.has(b));
    for (const b of this.#taken) if (!carried.has(b)) this.#pool.give(b);
    this.#taken.length = 0;
    if (kept.length === 0) return undefined;
    return () => {
      for (const b of kept) this.#pool.give(b);
    };
  }
}
