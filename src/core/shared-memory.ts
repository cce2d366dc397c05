import type { Datatype } from "./datatypes.js";
import { InvalidArgumentError, UnimplementedError } from "./errors.js";
import type { Parameters } from "./infer.js";
import type { Shape } from "./shape.js";
import type { SharedMemoryRef, SharedPlacement } from "./shared-placement.js";
import { Tensor } from "./tensor.js";

export type { SharedMemoryRef, SharedPlacement } from "./shared-placement.js";

/**
 * The shared-memory extensions (Triton's system and CUDA shared memory) as the frontends see
 * them. A client registers a region once and then names `(region, offset, byte_size)` in the
 * parameters of an input or output instead of sending bytes. The implementation lives in
 * src/shm/; the frontends translate the wire calls to this interface and nothing else.
 */

export interface SystemRegionStatus {
  readonly name: string;
  /** Empty unless the operator lets status reveal keys. */
  readonly key: string;
  readonly offset: number;
  readonly byte_size: number;
}

export interface CudaRegionStatus {
  readonly name: string;
  readonly device_id: number;
  readonly byte_size: number;
}

/** A tensor's memory in a region: host bytes for system regions, a device pointer for CUDA ones. */
export interface SharedView {
  /** A view of the mapped region (empty for CUDA regions: the bytes are on the device). */
  readonly bytes: Uint8Array;
  readonly placement: SharedPlacement;
  /** Release when the request is done; an unregister waits for no one but unmaps only after. */
  release(): void;
  /** For memory staged through the host (CUDA regions): sends the first `length` bytes home. */
  flush?(length: number): void;
  /**
   * For an input in a CUDA region: fetches its bytes to host memory. The tensor calls it only
   * when something reads the bytes; a model that takes device memory never does (no copy).
   */
  load?(): Uint8Array;
}

/** The input tensor over a region's view: deferred when its bytes are on a device. */
export function tensorOfView(name: string, datatype: Datatype, shape: Shape, view: SharedView): Tensor {
  if (view.load === undefined) return new Tensor(name, datatype, shape, view.bytes, view.placement);
  return Tensor.deferred(name, datatype, shape, view.placement.byteSize, view.load, view.placement);
}

export interface SharedMemoryCore {
  /** The extensions this server answers: "system_shared_memory", "cuda_shared_memory". */
  readonly extensions: readonly string[];
  systemStatus(name?: string): SystemRegionStatus[];
  /** Values as they came off the wire: the implementation checks them. */
  systemRegister(name: string, key: unknown, offset: unknown, byteSize: unknown): void;
  /** Every region when `name` is undefined. */
  systemUnregister(name?: string): void;
  cudaStatus(name?: string): CudaRegionStatus[];
  cudaRegister(name: string, rawHandle: Uint8Array, deviceId: unknown, byteSize: unknown): void;
  cudaUnregister(name?: string): void;
  /**
   * The memory a tensor names; throws InvalidArgumentError for an unknown region or bad bounds.
   * `output`: the view is written, not read (a CUDA region's bytes are then not fetched).
   */
  view(ref: SharedMemoryRef, what: string, output?: boolean): SharedView;
  /** Unmaps everything (server shutdown). */
  close(): void;
}

/**
 * Reads `shared_memory_region`, `shared_memory_offset`, `shared_memory_byte_size` from a
 * tensor's parameters; undefined when the tensor does not use shared memory.
 */
export function sharedMemoryRef(params: Parameters, what: string): SharedMemoryRef | undefined {
  const region = params.shared_memory_region;
  const size = params.shared_memory_byte_size;
  const offset = params.shared_memory_offset;
  if (region === undefined && size === undefined && offset === undefined) return undefined;
  if (region === undefined || size === undefined) {
    throw new InvalidArgumentError(
      `${what}: shared_memory_region and shared_memory_byte_size must be given together`,
    );
  }
  if (typeof region !== "string" || region === "")
    throw new InvalidArgumentError(`${what}: shared_memory_region must be a non-empty string`);
  return {
    region,
    byteSize: nonNegative(size, "shared_memory_byte_size", what),
    offset: offset === undefined ? 0 : nonNegative(offset, "shared_memory_offset", what),
  };
}

function nonNegative(v: unknown, field: string, what: string): number {
  const n = typeof v === "bigint" ? (v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= 0n ? Number(v) : -1) : v;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0)
    throw new InvalidArgumentError(`${what}: ${field} must be a non-negative integer, got ${String(v)}`);
  return n;
}

/** The parameters that locate a tensor in shared memory: never forwarded to a model. */
export const SHARED_MEMORY_PARAMETERS = [
  "shared_memory_region",
  "shared_memory_offset",
  "shared_memory_byte_size",
] as const;

/** Drops the shared-memory parameters from a tensor's parameters. */
export function withoutSharedMemory(params: Parameters): Parameters {
  if (
    !(
      "shared_memory_region" in params ||
      "shared_memory_byte_size" in params ||
      "shared_memory_offset" in params
    )
  )
    return params;
  const out: Parameters = { ...params };
  for (const k of SHARED_MEMORY_PARAMETERS) delete out[k];
  return out;
}

type UnmappedListener = (key: string) => void;
// Process-wide, like the default registry: the shm layer announces, Python backends listen.
const UNMAPPED = Symbol.for("tensorbind.shm.unmapped");

function unmappedListeners(): Set<UnmappedListener> {
  const g = globalThis as { [UNMAPPED]?: Set<UnmappedListener> };
  g[UNMAPPED] ??= new Set();
  return g[UNMAPPED];
}

/**
 * Called when the server unmaps a client's region (unregister, shutdown): processes that
 * mapped the same segment for speed (Python workers) drop their mappings too. Returns an
 * unsubscribe function.
 */
export function onRegionUnmapped(listener: UnmappedListener): () => void {
  unmappedListeners().add(listener);
  return () => unmappedListeners().delete(listener);
}

export function announceRegionUnmapped(key: string): void {
  for (const l of unmappedListeners()) l(key);
}

/** What a server with the extensions switched off answers. */
export class DisabledSharedMemory implements SharedMemoryCore {
  readonly extensions: readonly string[] = [];
  #off(): never {
    throw new UnimplementedError(
      "the shared-memory extensions are switched off on this server (--shm-extension)",
    );
  }
  systemStatus(): SystemRegionStatus[] {
    return this.#off();
  }
  systemRegister(): void {
    this.#off();
  }
  systemUnregister(): void {
    this.#off();
  }
  cudaStatus(): CudaRegionStatus[] {
    return this.#off();
  }
  cudaRegister(): void {
    this.#off();
  }
  cudaUnregister(): void {
    this.#off();
  }
  view(): SharedView {
    return this.#off();
  }
  close(): void {}
}
