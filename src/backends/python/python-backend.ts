import type {
  Backend,
  BackendStartContext,
  BackendStats,
  ExecutionRequest,
  ExecutionResult,
  ModelDeclaration,
  RequestBuffer,
} from "../../core/backend.js";
import { onRegionUnmapped } from "../../core/shared-memory.js";
import type { ModelSpec } from "../../core/spec.js";
import { declaredSpecs } from "../declared-specs.js";
import { shm } from "../shm-addon.js";
import { SharedArena } from "./arena.js";
import { PythonInstance } from "./instance.js";
import type { ResolvedPythonOptions } from "./options.js";
import type { ConfigureMessage, DeclarationJson } from "./protocol.js";
import { RestartPolicy } from "./restart-policy.js";

/** A pool of Python worker processes, one per instance (parallelism past the GIL). */
export class PythonBackend implements Backend {
  readonly kind = "python" as const;
  readonly instances: number;
  readonly #opts: ResolvedPythonOptions;
  #pool: PythonInstance[] = [];
  readonly #restarts = new RestartPolicy();
  #arena: SharedArena | undefined;
  #maxBatchSize = 0;
  #takesRequests = false;
  #unsubscribe: (() => void) | undefined;

  constructor(opts: ResolvedPythonOptions) {
    this.#opts = opts;
    this.instances = opts.instances;
  }

  async start(ctx: BackendStartContext): Promise<ModelDeclaration | undefined> {
    const { instances, gpus, groups: _groups, ...rest } = this.#opts;
    shm(); // no addon, no Python model: fail the load with the fix rather than every request later
    const arena = new SharedArena({
      what: `the inputs of model '${ctx.model}'`,
      limitBytes: rest.shmLimitBytes,
      onDrop: (id) => {
        for (const p of this.#pool) p.inputSegmentDropped(id);
      },
    });
    this.#arena = arena;
    let spawned = 0;
    this.#pool = Array.from(
      { length: instances },
      (_, instance) =>
        new PythonInstance({
          ...rest,
          arena,
          restarts: this.#restarts,
          instance,
          gpu: gpus[instance] ?? -1,
          model: ctx.model,
          runtimeDir: ctx.runtimeDir,
          log: ctx.log,
          infer: ctx.infer,
          inferStream: ctx.inferStream,
          // Every first worker spawned: the server's thread is free while their interpreters start.
          onSpawned: () => {
            if (++spawned === instances) ctx.waiting?.();
          },
        }),
    );
    // Workers keep clients' regions mapped between requests; they let go when the server does.
    this.#unsubscribe = onRegionUnmapped((key) => {
      for (const p of this.#pool) p.forget([key]);
    });
    const started = await Promise.allSettled(this.#pool.map((p) => p.start()));
    const failure = started.find((s): s is PromiseRejectedResult => s.status === "rejected");
    if (failure !== undefined) {
      await this.stop();
      throw failure.reason;
    }
    const first = started[0];
    const declared = first?.status === "fulfilled" ? first.value : null;
    this.#takesRequests = declared?.takesRequests === true;
    const declaration = declared === null ? undefined : toDeclaration(declared, ctx.model);
    this.#maxBatchSize = declaration?.maxBatchSize ?? 0;
    return declaration;
  }

  configure(spec: ModelSpec): void {
    this.#maxBatchSize = spec.maxBatchSize;
    const specs = (s: ModelSpec["inputs"]) =>
      Object.fromEntries(
        Object.entries(s).map(([n, t]) => [n, { datatype: t.datatype, shape: [...t.shape] }]),
      );
    const message: ConfigureMessage = {
      type: "configure",
      name: spec.name,
      maxBatchSize: spec.maxBatchSize,
      preferredBatchSizes: [...(spec.scheduling?.preferredBatchSizes ?? [])],
      inputs: specs(spec.inputs),
      outputs: specs(spec.outputs),
    };
    for (const p of this.#pool) p.configure(message);
  }

  execute(batch: readonly ExecutionRequest[], instance: number): Promise<(ExecutionResult | Error)[]> {
    const worker = this.#pool[instance];
    if (worker === undefined) return Promise.reject(new RangeError(`no instance ${instance}`));
    return worker.execute(batch, this.#maxBatchSize, this.#takesRequests);
  }

  executeMany(
    batches: readonly (readonly ExecutionRequest[])[],
    instance: number,
  ): Promise<(ExecutionResult | Error)[][]> {
    const worker = this.#pool[instance];
    if (worker === undefined) return Promise.reject(new RangeError(`no instance ${instance}`));
    return worker.executeMany(batches, this.#maxBatchSize, this.#takesRequests);
  }

  /** A request body lands in the model's arena: the worker reads it where the socket wrote it. */
  allocateRequest(byteLength: number, alignAt: number): RequestBuffer | undefined {
    return this.#arena?.alloc(byteLength, alignAt);
  }

  /** The model's input arena (for tests and diagnostics). */
  get arena(): SharedArena | undefined {
    return this.#arena;
  }

  /** Process ids of the live workers (for tests and diagnostics). */
  get pids(): (number | undefined)[] {
    return this.#pool.map((p) => p.pid);
  }

  stats(): BackendStats {
    let workerRestarts = 0;
    let sharedMemoryBytes = this.#arena?.byteLength ?? 0;
    for (const p of this.#pool) {
      workerRestarts += p.restarts;
      sharedMemoryBytes += p.sharedMemoryBytes;
    }
    return { workerRestarts, sharedMemoryBytes, crashLooping: this.#restarts.crashLooping };
  }

  async stop(): Promise<void> {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    const pool = this.#pool;
    await Promise.all(pool.map((p) => p.stop(this.#opts.stopGraceMs)));
    this.#arena?.close();
  }
}

function toDeclaration(json: DeclarationJson, model: string): ModelDeclaration {
  const inputs = declaredSpecs(`python model '${model}'`, "input", json.inputs);
  const outputs = declaredSpecs(`python model '${model}'`, "output", json.outputs);
  return {
    ...(inputs !== undefined && { inputs }),
    ...(outputs !== undefined && { outputs }),
    ...(json.maxBatchSize !== undefined && { maxBatchSize: json.maxBatchSize }),
    ...(json.batching !== undefined && { batching: json.batching }),
    // PyTriton's users expect @batch with max_batch_size > 0 to batch: without a batcher it would
    // run one request per call, so a batched function gets dynamic batching unless it says no.
    ...(json.batching === undefined &&
      json.takesRequests === true &&
      (json.maxBatchSize ?? 0) > 0 && { batching: true }),
    ...(json.queue !== undefined && { queue: json.queue }),
  };
}
