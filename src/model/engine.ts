import { heapRequestBuffer } from "../backends/request-buffer.js";
import type { RequestBuffer } from "../core/backend.js";
import {
  InvalidArgumentError,
  toTensorbindError,
  UnavailableError,
  UnimplementedError,
} from "../core/errors.js";
import { failureReason } from "../core/failure-reason.js";
import type { InferRequest, InferResponse, StreamResponse } from "../core/infer.js";
import type {
  InferenceCore,
  ModelLoadOverrides,
  ModelMetadata,
  RepositoryControl,
  RepositoryEntry,
  ServerMetadata,
  TensorMetadata,
} from "../core/inference-core.js";
import type { ModelConfig } from "../core/model-config.js";
import { takeRelease } from "../core/release.js";
import type { RequestListener } from "../core/request-event.js";
import {
  DisabledSharedMemory,
  type SharedMemoryCore,
  type SharedMemoryRef,
  type SharedView,
  sharedMemoryRef,
} from "../core/shared-memory.js";
import type { TensorSpecs } from "../core/spec.js";
import type { ModelStatistics } from "../core/statistics.js";
import type { Tensor } from "../core/tensor.js";
import { VERSION } from "../core/version.js";
import { inferDecoupled, isDecoupledSpec } from "./decoupled.js";
import type { Model } from "./model.js";
import type { Registry } from "./registry.js";
import { renderModelConfig } from "./render-config.js";
import { fullShape, validateOutputs, validateRequest } from "./validate.js";

/** Extensions listed in server metadata: only those that really work. */
export const EXTENSIONS = ["binary_tensor_data", "model_configuration", "parameters", "statistics"] as const;

const now = () => process.hrtime.bigint();

/**
 * The request path behind every frontend: registry → validation → scheduler → backend →
 * output validation, with stage timings recorded for statistics.
 */
export class InferenceEngine implements InferenceCore {
  readonly #registry: Registry;
  readonly #id: string;
  readonly #extensions: string[];
  readonly #onRequest: RequestListener | undefined;
  readonly sharedMemory: SharedMemoryCore;
  #ready = false;
  #repository: RepositoryControl | undefined;

  constructor(
    registry: Registry,
    options: {
      id: string;
      extensions?: readonly string[];
      onRequest?: RequestListener | undefined;
      sharedMemory?: SharedMemoryCore | undefined;
    },
  ) {
    this.#registry = registry;
    this.#id = options.id;
    this.sharedMemory = options.sharedMemory ?? new DisabledSharedMemory();
    this.#extensions = [...(options.extensions ?? EXTENSIONS), ...this.sharedMemory.extensions];
    this.#onRequest = options.onRequest;
  }

  setReady(ready: boolean): void {
    this.#ready = ready;
  }

  isLive(): boolean {
    return true;
  }

  isReady(): boolean {
    return this.#ready;
  }

  serverMetadata(): ServerMetadata {
    return { name: this.#id, version: VERSION, extensions: this.#extensions };
  }

  isModelReady(model: string, version?: string): boolean {
    return this.#registry.get(model, version).isReady;
  }

  modelMetadata(model: string, version?: string): ModelMetadata {
    const m = this.#registry.get(model, version);
    const spec = m.spec;
    const tensors = (specs: TensorSpecs): TensorMetadata[] =>
      Object.entries(specs).map(([name, s]) => ({ name, datatype: s.datatype, shape: fullShape(spec, s) }));
    return {
      name: m.name,
      versions: version === undefined ? this.#registry.versionsOf(m.name) : [m.version],
      platform: spec.platform,
      inputs: tensors(spec.inputs),
      outputs: tensors(spec.outputs),
    };
  }

  modelConfig(model: string, version?: string): ModelConfig {
    return renderModelConfig(this.#registry.get(model, version).spec);
  }

  modelStatistics(model?: string, version?: string): ModelStatistics[] {
    if (model === undefined || model === "") return this.#registry.list().map((m) => m.stats.snapshot());
    if (version === undefined || version === "") {
      this.#registry.get(model); // throws for an unknown model
      return this.#registry
        .list()
        .filter((m) => m.name === model)
        .map((m) => m.stats.snapshot());
    }
    return [this.#registry.get(model, version).stats.snapshot()];
  }

  /** Serve a model repository's index and load/unload (Triton's repository extension). */
  setRepository(repository: RepositoryControl): void {
    this.#repository = repository;
    for (const ext of ["model_repository", "model_repository(unload_dependents)"])
      if (!this.#extensions.includes(ext)) this.#extensions.push(ext);
  }

  repositoryIndex(readyOnly = false): RepositoryEntry[] {
    const repo = this.#repository;
    const bound = this.#registry
      .list()
      .filter((m) => !repo?.has(m.name))
      .map((m) => ({ name: m.name, version: m.version, state: m.state, reason: m.reason }))
      .filter((e) => !readyOnly || e.state === "READY");
    if (!repo) return bound;
    return [...bound, ...repo.index(readyOnly)].sort((a, b) =>
      a.name === b.name ? Number(a.version) - Number(b.version) : a.name < b.name ? -1 : 1,
    );
  }

  loadModel(name: string, overrides?: ModelLoadOverrides): Promise<void> {
    if (!this.#repository) return Promise.reject(noRepository("load", name));
    // Triton answers a failed load with 400 / INVALID_ARGUMENT, naming the model.
    return this.#repository.load(name, overrides).catch((err: unknown) => {
      const e = toTensorbindError(err);
      if (e.code !== "TB_ERR_CONFIG") throw e;
      throw new InvalidArgumentError(`load failed for model '${name}': ${e.message}`, { cause: e });
    });
  }

  unloadModel(name: string, options?: { unloadDependents?: boolean }): Promise<void> {
    if (!this.#repository) return Promise.reject(noRepository("unload", name));
    return this.#repository.unload(name, options);
  }

  requestBuffer(
    model: string,
    version: string | undefined,
    byteLength: number,
    alignAt: number,
  ): RequestBuffer {
    const backend = this.#registry.get(model, version).backend;
    return backend.allocateRequest?.(byteLength, alignAt) ?? heapRequestBuffer(byteLength, alignAt);
  }

  async infer(request: InferRequest): Promise<InferResponse> {
    const start = now();
    const model = this.#registry.get(request.model, request.version);
    try {
      return await this.#infer(model, request, start);
    } catch (err) {
      const e = toTensorbindError(err);
      const totalNs = Number(now() - start);
      const reason = failureReason(e);
      model.stats.recordFailure(totalNs, reason);
      this.#onRequest?.({
        ok: false,
        request,
        model: model.name,
        version: model.version,
        totalNs,
        error: e,
        reason,
      });
      throw e;
    }
  }

  isModelDecoupled(model: string, version?: string): boolean {
    return isDecoupledSpec(this.#registry.get(model, version).spec);
  }

  async inferStream(request: InferRequest, onResponse: (response: StreamResponse) => void): Promise<void> {
    const start = now();
    const model = this.#registry.get(request.model, request.version);
    if (!isDecoupledSpec(model.spec)) {
      onResponse({ response: await this.infer(request), final: true });
      return;
    }
    let outcome: Awaited<ReturnType<typeof inferDecoupled>>;
    try {
      if (!model.isReady)
        throw new UnavailableError(`model '${model.name}' version ${model.version} is not ready`);
      outcome = await inferDecoupled(model, request, onResponse, (execution, batchSize) =>
        model.scheduler.submit(execution, submitOptions(request, batchSize)),
      );
    } catch (err) {
      outcome = { error: toTensorbindError(err), responses: [] };
      this.#recordOutcome(model, request, start, outcome, 0);
      throw outcome.error;
    }
    this.#recordOutcome(model, request, start, outcome, 1);
  }

  /** A decoupled request's statistics: one success (its execution) or failure, and its responses. */
  #recordOutcome(
    model: Model,
    request: InferRequest,
    start: bigint,
    outcome: Awaited<ReturnType<typeof inferDecoupled>>,
    batchSize: number,
  ): void {
    const totalNs = Number(now() - start);
    const base = { request, model: model.name, version: model.version, totalNs };
    if (outcome.responses.length > 0) model.stats.recordResponses(outcome.responses);
    if ("error" in outcome) {
      const reason = failureReason(outcome.error);
      model.stats.recordFailure(totalNs, reason);
      this.#onRequest?.({ ok: false, ...base, error: outcome.error, reason });
      return;
    }
    const { queueNs, timings } = outcome.scheduled;
    model.stats.recordSuccess(totalNs, queueNs, batchSize, timings);
    this.#onRequest?.({ ok: true, ...base, queueNs, batchSize, timings });
  }

  /**
   * Not async: without output regions there is nothing to release afterwards, and one async
   * frame and promise less per request count on the small-request path. A throw here is
   * caught by infer()'s try like a rejection.
   */
  #infer(model: Model, request: InferRequest, start: bigint): Promise<InferResponse> {
    if (!model.isReady)
      throw new UnavailableError(`model '${model.name}' version ${model.version} is not ready`);
    if (isDecoupledSpec(model.spec))
      throw new UnimplementedError(
        `model '${model.name}' is decoupled (model_transaction_policy { decoupled: true }): ` +
          "its responses are streamed, over gRPC ModelStreamInfer",
      );
    const spec = model.spec;
    const { execution, batchSize } = validateRequest(spec, request);
    // Output regions are resolved (and bounds-checked) before the model runs.
    const shared = this.#outputRegions(request);
    const call: RunCall = { model, request, start, execution, batchSize, shared };
    return shared.size === 0 ? this.#run(call) : this.#inferShared(call);
  }

  async #inferShared(call: RunCall): Promise<InferResponse> {
    const { execution, shared } = call;
    try {
      const withShared = {
        ...execution,
        sharedOutputs: Object.fromEntries(
          [...shared].map(([name, { view }]) => [
            name,
            // A getter: a CUDA region's host staging is made only if the model writes host memory.
            {
              get bytes() {
                return view.bytes;
              },
              placement: view.placement,
            },
          ]),
        ),
      };
      return await this.#run({ ...call, execution: withShared });
    } finally {
      for (const { view } of shared.values()) view.release();
    }
  }

  #outputRegions(request: InferRequest): OutputRegions {
    const shared: OutputRegions = new Map();
    if (request.outputs === undefined) return shared;
    try {
      for (const o of request.outputs) {
        const what = `output '${o.name}'`;
        const ref = sharedMemoryRef(o.parameters, what);
        if (ref !== undefined) shared.set(o.name, { ref, view: this.sharedMemory.view(ref, what, true) });
      }
    } catch (err) {
      for (const { view } of shared.values()) view.release();
      throw err;
    }
    return shared;
  }

  async #run({ model, request, start, execution, batchSize, shared }: RunCall): Promise<InferResponse> {
    const spec = model.spec;
    const inputDone = now();
    const scheduled = await model.scheduler.submit(execution, submitOptions(request, batchSize));
    const outputStart = now();
    const release = takeRelease(scheduled.result);
    let outputs: Tensor[];
    try {
      outputs = validateOutputs(spec, scheduled.result, execution.requestedOutputs, batchSize);
      for (const t of outputs) {
        const s = shared.get(t.name);
        if (s !== undefined && !writtenInPlace(t, s.view)) {
          writeShared(t.bytes, s.view.bytes, t.name);
          s.view.flush?.(t.bytes.byteLength);
        }
      }
    } catch (err) {
      release?.();
      throw err;
    }
    const end = now();
    const totalNs = Number(end - start);
    const timings = {
      computeInputNs: scheduled.timings.computeInputNs + Number(inputDone - start),
      computeInferNs: scheduled.timings.computeInferNs,
      computeOutputNs: scheduled.timings.computeOutputNs + Number(end - outputStart),
    };
    model.stats.recordSuccess(totalNs, scheduled.queueNs, batchSize, timings);
    this.#onRequest?.({
      ok: true,
      request,
      model: model.name,
      version: model.version,
      totalNs,
      queueNs: scheduled.queueNs,
      batchSize,
      timings,
    });
    return {
      ...(request.id !== undefined ? { id: request.id } : {}),
      model: model.name,
      version: model.version,
      parameters: {},
      outputs,
      ...(shared.size > 0
        ? { sharedOutputs: new Map([...shared].map(([name, { ref }]) => [name, ref] as const)) }
        : {}),
      ...(release !== undefined && { release }),
    };
  }
}

/** The client's output regions of a request, by output name: the reference and its mapped view. */
type OutputRegions = Map<string, { ref: SharedMemoryRef; view: SharedView }>;

/** One validated request on its way through the scheduler. */
interface RunCall {
  readonly model: Model;
  readonly request: InferRequest;
  readonly start: bigint;
  readonly execution: ReturnType<typeof validateRequest>["execution"];
  readonly batchSize: number;
  readonly shared: OutputRegions;
}

/** The scheduler's options of a request: its deadline, priority and queue timeout. */
function submitOptions(request: InferRequest, batchSize: number) {
  const { priority, timeout } = request.parameters;
  return {
    deadline: request.deadline,
    batchSize,
    // Validated as non-negative integers (number or bigint: tritonclient sends uint64 over gRPC).
    priority: typeof priority === "number" || typeof priority === "bigint" ? priority : undefined,
    timeoutUs: typeof timeout === "number" || typeof timeout === "bigint" ? timeout : undefined,
  };
}

/** Copies an output into its region, unless the model already produced it there. */
function writeShared(bytes: Uint8Array, target: Uint8Array, name: string): void {
  if (bytes.byteLength > target.byteLength) {
    throw new InvalidArgumentError(
      `output '${name}': shared_memory_byte_size ${target.byteLength} is too small for the output (${bytes.byteLength} bytes)`,
    );
  }
  if (bytes.buffer === target.buffer && bytes.byteOffset === target.byteOffset) return;
  target.set(bytes);
}

function noRepository(op: string, name: string): UnimplementedError {
  return new UnimplementedError(
    `failed to ${op} '${name}': the server has no model repository (serve --model-repository DIR)`,
  );
}

/** An output the model wrote straight into the client's CUDA region (nothing to copy or flush). */
function writtenInPlace(t: Tensor, view: SharedView): boolean {
  const p = t.placement;
  const v = view.placement;
  return t.deferred && p?.kind === "cuda" && v.kind === "cuda" && p.devicePointer === v.devicePointer;
}
