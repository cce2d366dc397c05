import type { InferRequest, InferResponse, Parameters, StreamResponse } from "./infer.js";
import type { InstanceGroup } from "./instance-groups.js";
import type { Logger } from "./logger.js";
import type { BatchingOptions, QueueOptions } from "./scheduling.js";
import type { SharedPlacement } from "./shared-placement.js";
import type { ModelSpec, TensorSpecs } from "./spec.js";
import type { Tensor } from "./tensor.js";

/**
 * The seam between the scheduler and the code that runs a model. A backend knows nothing of
 * the wire; the scheduler knows nothing of how a backend runs. JS functions, native addons
 * and Python worker pools all implement this.
 */

/** What a backend may declare about its model when it starts (Python's @tensorbind.model, a native addon's specs). */
export interface ModelDeclaration {
  readonly inputs?: TensorSpecs;
  readonly outputs?: TensorSpecs;
  readonly maxBatchSize?: number;
  /** Dynamic batching the model asks for (Python's `@tensorbind.model(batcher=...)`); bind() options win. */
  readonly batching?: boolean | BatchingOptions;
  readonly queue?: QueueOptions;
}

/** One request as a backend sees it: inputs by name, already validated against the spec. */
export interface ExecutionRequest {
  readonly id: string | undefined;
  readonly inputs: Readonly<Record<string, Tensor>>;
  readonly parameters: Parameters;
  /** Names of the outputs to produce (all of the model's outputs when none were requested). */
  readonly requestedOutputs: readonly string[];
  readonly signal: AbortSignal | undefined;
  /**
   * Outputs the client asked for in its shared memory: a backend may write them there itself
   * and answer a tensor over `bytes` (the engine then copies nothing).
   */
  readonly sharedOutputs?: Readonly<Record<string, SharedOutput>>;
  /**
   * A decoupled model's request (Triton's `model_transaction_policy { decoupled: true }`): the
   * backend answers through this, any number of times, the last with `final`; its execute()
   * result for the request is then empty (or an Error when the model failed before FINAL).
   */
  readonly respond?: (response: StreamedResponse) => void;
}

/** One response of a decoupled model's request: outputs, an error, or the final flag alone. */
export interface StreamedResponse {
  readonly result?: ExecutionResult;
  readonly error?: Error;
  readonly final: boolean;
}

/** A client's region an output goes to (the shared-memory extensions). */
export interface SharedOutput {
  /** The whole span the client gave (the output may be shorter). */
  readonly bytes: Uint8Array;
  readonly placement: SharedPlacement;
}

/** Outputs by name. A backend may return more than was requested; the caller selects. */
export type ExecutionResult = Record<string, Tensor>;

/**
 * Memory a frontend reads one request body into, lent by the model's backend (a Python model's
 * shared-memory arena slot, so the worker reads the bytes where the socket wrote them) or the heap.
 */
export interface RequestBuffer {
  /** `byteLength` bytes; `bytes[alignAt]` sits on a 64-byte boundary of the address space. */
  readonly bytes: Uint8Array;
  /** Gives the memory back; once the request has settled and its response is written. Idempotent. */
  release(): void;
}

export interface BackendStartContext {
  readonly model: string;
  readonly version: string;
  readonly log: Logger;
  /** Private, mode-0700 directory this server may write into. */
  readonly runtimeDir: string;
  /** The server's own request path: pipelines (and Python models' BLS calls) reach other models through it. */
  readonly infer?: (request: InferRequest) => Promise<InferResponse>;
  /** Its streaming form (a decoupled model's responses as they come; see InferenceCore.inferStream). */
  readonly inferStream?: (
    request: InferRequest,
    onResponse: (response: StreamResponse) => void,
  ) => Promise<void>;
  /**
   * Called once the backend's start only waits on processes it started (a Python worker's
   * interpreter start-up): the server may use this thread meanwhile, e.g. to load a frontend.
   */
  readonly waiting?: () => void;
}

/** Gauges a backend may report for metrics (read at scrape time). */
export interface BackendStats {
  /** Worker processes restarted after they died, since the backend started. */
  readonly workerRestarts: number;
  /** Shared memory mapped for the workers' arenas, in bytes. */
  readonly sharedMemoryBytes: number;
  /** Instances whose workers keep dying soon after they start (a crash loop). */
  readonly crashLooping?: number;
}

export interface Backend {
  readonly kind: "js" | "native" | "python";
  /** Number of instances the scheduler may run at once. */
  readonly instances: number;
  /** The CUDA device of each instance (-1: CPU), when the backend places instances on GPUs. */
  readonly gpus?: readonly number[] | undefined;
  /** The instance groups as the user gave them (`{ count, gpus }`), shown in the model config. */
  readonly instanceGroups?: readonly InstanceGroup[] | undefined;
  /** Loads the model (starts workers, opens the addon); may declare specs the user left out of bind(). */
  start(ctx: BackendStartContext): Promise<ModelDeclaration | undefined>;
  /** Called once the final spec is known, before the first execute. */
  configure?(spec: ModelSpec): void;
  /**
   * Runs a batch of requests on one instance (0 ≤ instance < instances) and returns one result
   * per request, in order. Throwing fails the whole batch; a per-request failure is an Error
   * in that request's slot.
   */
  execute(batch: readonly ExecutionRequest[], instance: number): Promise<(ExecutionResult | Error)[]>;
  /**
   * Runs several batches on one instance, one after another, each as execute() would (a model
   * call per batch), and returns each batch's results. For a backend whose every execution costs
   * a round trip (a Python worker): the scheduler hands it the batches that queue for a busy
   * instance (src/scheduler/bundle.ts), one message instead of one each.
   */
  readonly executeMany?:
    | ((
        batches: readonly (readonly ExecutionRequest[])[],
        instance: number,
      ) => Promise<(ExecutionResult | Error)[][]>)
    | undefined;
  /**
   * Lends memory for a request body of `byteLength` bytes whose tensor data starts at `alignAt`
   * (see RequestBuffer). Backends without one get an aligned heap buffer. May throw
   * SharedMemoryExhaustedError.
   */
  allocateRequest?(byteLength: number, alignAt: number): RequestBuffer | undefined;
  /** Releases everything (processes, memory). Idempotent. */
  stop(): Promise<void>;
  /** Backends with workers or shared memory report them here (tensorbind_* metrics). */
  stats?(): BackendStats | undefined;
}

/** Marks an object as a backend factory, so bind({ fn }) can tell python()/native() from a JS function. */
export const BACKEND_FACTORY = Symbol.for("tensorbind.backendFactory");

export interface BackendFactory {
  readonly [BACKEND_FACTORY]: true;
  readonly kind: Backend["kind"];
  /** `instances` is bind()'s, when given there; the factory's own option, when given, must agree. */
  create(defaults?: { readonly instances?: number | undefined }): Backend;
}

export function isBackendFactory(value: unknown): value is BackendFactory {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as Record<symbol, unknown>)[BACKEND_FACTORY] === true
  );
}
