import type { RequestBuffer } from "./backend.js";
import type { Datatype } from "./datatypes.js";
import type { InferRequest, InferResponse, StreamResponse } from "./infer.js";
import type { ModelConfig } from "./model-config.js";
import type { SharedMemoryCore } from "./shared-memory.js";
import type { ModelStatistics } from "./statistics.js";

/**
 * What a frontend may ask of the server. HTTP and gRPC translate their wire formats to and
 * from these calls and nothing else; all validation and every error originates behind them.
 * Methods throw TensorbindError (unknown model → NotFoundError with Triton's wording).
 */
export interface InferenceCore {
  isLive(): boolean;
  isReady(): boolean;
  serverMetadata(): ServerMetadata;
  isModelReady(model: string, version?: string): boolean;
  modelMetadata(model: string, version?: string): ModelMetadata;
  modelConfig(model: string, version?: string): ModelConfig;
  /** All models when `model` is undefined. */
  modelStatistics(model?: string, version?: string): ModelStatistics[];
  /** Every model the server knows, with each version's state; `readyOnly` keeps the READY ones. */
  repositoryIndex(readyOnly?: boolean): RepositoryEntry[];
  /** Loads or reloads a repository model (Triton's repository extension). */
  loadModel(name: string, overrides?: ModelLoadOverrides): Promise<void>;
  /** Unloads a repository model (and the ensembles that use it, with `unloadDependents`). */
  unloadModel(name: string, options?: { unloadDependents?: boolean }): Promise<void>;
  infer(request: InferRequest): Promise<InferResponse>;
  /** Whether the model answers through streams (Triton's decoupled transaction policy). */
  isModelDecoupled(model: string, version?: string): boolean;
  /**
   * A request to a decoupled model: each response as the model sends it, the last with `final`
   * (an error one when the request fails); resolves after it. Throws before any response when
   * the request is refused (unknown model, bad input).
   */
  inferStream(request: InferRequest, onResponse: (response: StreamResponse) => void): Promise<void>;
  /** The shared-memory extensions (answers UNIMPLEMENTED for each call when switched off). */
  readonly sharedMemory: SharedMemoryCore;
  /**
   * Memory to read a binary request body into, from the model's backend: tensor data starting
   * at `alignAt` lands 64-byte aligned (and, for a Python model, in shared memory the worker
   * reads in place). Release it once the response is written.
   */
  requestBuffer(
    model: string,
    version: string | undefined,
    byteLength: number,
    alignAt: number,
  ): RequestBuffer;
}

export interface ServerMetadata {
  readonly name: string;
  readonly version: string;
  readonly extensions: readonly string[];
}

export interface TensorMetadata {
  readonly name: string;
  readonly datatype: Datatype;
  /** -1 for variable dims, with a leading -1 when the model batches. */
  readonly shape: readonly number[];
}

export interface ModelMetadata {
  readonly name: string;
  readonly versions: readonly string[];
  readonly platform: string;
  readonly inputs: readonly TensorMetadata[];
  readonly outputs: readonly TensorMetadata[];
}

export interface RepositoryEntry {
  readonly name: string;
  readonly version: string;
  /** Triton's states: READY, UNAVAILABLE, LOADING, UNLOADING. */
  readonly state: string;
  readonly reason: string;
}

/** Triton's load parameters: a JSON `config` instead of config.pbtxt, and `file:<path>` contents. */
export interface ModelLoadOverrides {
  readonly config?: string;
  readonly files?: Readonly<Record<string, Uint8Array>>;
}

/** The model repository behind the repository API (absent: only bound models, no load/unload). */
export interface RepositoryControl {
  index(readyOnly: boolean): RepositoryEntry[];
  has(name: string): boolean;
  load(name: string, overrides?: ModelLoadOverrides): Promise<void>;
  unload(name: string, options?: { unloadDependents?: boolean }): Promise<void>;
}
