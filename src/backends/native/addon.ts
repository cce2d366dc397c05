import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { DATATYPES, type Datatype, datatypeFromNativeCode } from "../../core/datatypes.js";
import { ConfigError } from "../../core/errors.js";
import type { DeviceMemory } from "./device-memory.js";

/**
 * The typed surface of a tensorbind native addon (native/include/tensorbind/addon.h). The rest
 * of the TypeScript never touches the untyped native object.
 */

/** The addon contract this tensorbind speaks; an addon built against another is refused. */
export const NATIVE_API_VERSION = 1;

/** The contract's code for a datatype (tensorbind::DataType in types.h), from the one datatype table. */
export function datatypeCode(datatype: Datatype): number {
  return DATATYPES[datatype].nativeCode;
}

export function datatypeOfCode(code: number): Datatype | undefined {
  return datatypeFromNativeCode(code);
}

/** A tensor spec as the addon declares it. */
export interface NativeTensorDecl {
  readonly datatype: string;
  readonly shape: readonly number[];
  readonly optional: boolean;
}

/** What `tensorbind::model(...)` declared; each part is absent when not declared. */
export interface NativeModelDecl {
  readonly inputs?: Readonly<Record<string, NativeTensorDecl>>;
  readonly outputs?: Readonly<Record<string, NativeTensorDecl>>;
  readonly maxBatchSize?: number;
  /** The model takes device memory in place (ModelDef::device_memory()). */
  readonly deviceMemory?: boolean;
}

/**
 * One output: name, datatype code, shape, and its bytes (an external buffer), the index of the
 * input it forwards, or "target" when the model wrote it into the memory `run` named for it.
 * `lease`: the bytes are a block of the instance's output pool, lent until `release([lease])`.
 */
export type NativeOutput = [
  name: string,
  datatype: number,
  shape: number[],
  data: ArrayBuffer | number | "target",
  lease?: number,
];

/** The instance's output pool: blocks it holds (lent or free), their bytes, how many are lent. */
export interface NativePoolStats {
  readonly blocks: number;
  readonly bytes: number;
  readonly leased: number;
}

/** One model instance: a worker thread in the addon. */
export interface NativeInstance {
  /** Starts the thread: selects the GPU, makes the stream, constructs the model's per-instance object. */
  start(): Promise<void>;
  /** Queues one call; the buffers in `datas` stay referenced until it settles. */
  run(
    names: string[],
    datatypes: number[],
    shapes: (readonly number[])[],
    /** Bytes, or device memory (a client's CUDA region) for a model that takes it. */
    datas: (Uint8Array | DeviceMemory)[],
    requested: readonly string[],
    /** Clients' shared memory for outputs, by name: `ctx.output<T>()` writes there when it fits. */
    targets?: Readonly<Record<string, Uint8Array | DeviceMemory>>,
  ): Promise<NativeOutput[]>;
  /**
   * Gives pooled outputs back (their `lease`s) once their response is written: the next calls
   * reuse the memory. Absent in addons built with older headers (then the collector frees them).
   */
  release?(leases: number[]): void;
  poolStats?(): NativePoolStats;
  /** Ends the thread after the calls already queued. Idempotent. */
  stop(): Promise<void>;
}

export interface NativeApi {
  readonly apiVersion: number;
  /** Whether the addon was compiled with CUDA. */
  readonly cuda: boolean;
  readonly models: Readonly<Record<string, NativeModelDecl>>;
  readonly Instance: new (model: string, index: number, gpu: number) => NativeInstance;
}

/** How the addon says a call failed (tensorbind::ErrorKind). */
export const NativeErrorKind = { Internal: 0, InvalidArgument: 1, Unavailable: 2 } as const;

/** An error from a native call, with the kind the model chose. */
export interface NativeError extends Error {
  kind?: number;
}

// One load per file: a second dlopen of the same library would run its initialiser again.
const loaded = new Map<string, unknown>();

/**
 * Loads an addon and checks that it is a tensorbind addon of this API version. Every failure is
 * a ConfigError that says what to do.
 */
export function loadNativeAddon(path: string): NativeApi {
  const file = resolve(path);
  if (!existsSync(file)) {
    throw new ConfigError(`native(): addon ${path} does not exist; build it first (cmake-js compile)`);
  }
  let exports = loaded.get(file);
  try {
    if (exports === undefined) {
      const module = { exports: {} as unknown };
      process.dlopen(module, file);
      exports = module.exports;
      loaded.set(file, exports);
    }
  } catch (err) {
    // dlopen's message names the cause: a missing shared library, an undefined symbol, a wrong architecture.
    throw new ConfigError(`native(): cannot load ${path}: ${(err as Error).message}`, { cause: err });
  }
  const api = (exports as { tensorbind?: Partial<NativeApi> } | null)?.tensorbind;
  if (typeof api !== "object" || api === null) {
    throw new ConfigError(
      `native(): ${path} is not a tensorbind addon (it exports no 'tensorbind'; one source file must say TENSORBIND_ADDON())`,
    );
  }
  if (api.apiVersion !== NATIVE_API_VERSION) {
    throw new ConfigError(
      `native(): ${path} was built against tensorbind native API version ${String(api.apiVersion)}, but this tensorbind speaks version ${NATIVE_API_VERSION}: rebuild the addon with this tensorbind's headers`,
    );
  }
  if (typeof api.Instance !== "function" || typeof api.models !== "object" || api.models === null) {
    throw new ConfigError(`native(): ${path} has a malformed tensorbind export`);
  }
  return api as NativeApi;
}
