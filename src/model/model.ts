import {
  type CheckedOutputs,
  type InputsOf,
  isRequestsFunction,
  type ModelFunction,
  type OutputsOf,
  type RequestsFunction,
} from "../backends/js/function-types.js";
import { JsBackend } from "../backends/js/js-backend.js";
import {
  type Backend,
  type BackendFactory,
  type BackendStartContext,
  isBackendFactory,
  type ModelDeclaration,
} from "../core/backend.js";
import { ConfigError, isTensorbindError, UnavailableError } from "../core/errors.js";
import {
  type BatchingOptions,
  type QueueOptions,
  resolveScheduling,
  type SchedulingConfig,
} from "../core/scheduling.js";
import {
  type ModelSpec,
  type TensorSpecs,
  validateModelName,
  validateTensorSpecs,
  validateVersion,
} from "../core/spec.js";
import { StatisticsRecorder } from "../core/statistics.js";
import { Scheduler } from "../scheduler/scheduler.js";

/**
 * What `bind()` takes. `I` and `O` are the input and output specs, `R` what `fn` returns: the
 * compiler types `fn`'s inputs from `inputs` and checks its outputs against `outputs`.
 */
export interface BindOptions<
  I extends TensorSpecs = TensorSpecs,
  O extends TensorSpecs = TensorSpecs,
  R = OutputsOf<O>,
> {
  /** Letters, digits, `.`, `_` and `-`. */
  name: string;
  /** A positive integer; defaults to 1. */
  version?: string | number;
  /**
   * A JS function, or a backend made by `python()` / `native()`. A plain function receives one
   * request at a time; one wrapped by `batch()` (or another decorator from `tensorbind`) receives
   * a whole batch.
   */
  fn: ModelFunction<InputsOf<NoInfer<I>>, CheckedOutputs<R, NoInfer<O>>> | RequestsFunction | BackendFactory;
  /** May be omitted when the backend declares them (Python's `@tensorbind.model`, a native addon's specs). */
  inputs?: I;
  outputs?: O;
  /** > 0 makes the first dimension of every tensor the batch dimension, up to this size. */
  maxBatchSize?: number;
  /** Check every output's datatype and shape against its spec (default true). */
  strict?: boolean;
  /** How many executions may run at once (JS concurrency slots, worker processes, GPUs). Default 1. */
  instances?: number;
  /** Requests allowed to wait; more are rejected at once with 503 / UNAVAILABLE. 0 = unbounded (default). */
  maxQueueSize?: number;
  /**
   * Dynamic batching: `true`, or `{ maxQueueDelayMs, preferredBatchSizes, preserveOrdering }`.
   * Queued requests that can be concatenated are merged into batches of up to `maxBatchSize`.
   */
  batching?: boolean | BatchingOptions;
  /** Queue policy: `{ maxSize, timeoutMs, timeoutAction, allowTimeoutOverride, priorityLevels, … }`. */
  queue?: QueueOptions;
  /**
   * Triton model-config fields shown as given by /config (a repository model's config.pbtxt:
   * platform, backend, version_policy, parameters, ensemble_scheduling, reshape, …).
   */
  modelConfig?: Readonly<Record<string, unknown>>;
}

/** Triton's model states, as the repository index reports them. */
export type ModelState = "LOADING" | "READY" | "UNLOADING" | "UNAVAILABLE";

/** One version of a bound model: its backend, scheduler, statistics and lifecycle. */
export class Model {
  readonly name: string;
  readonly version: string;
  readonly backend: Backend;
  readonly stats: StatisticsRecorder;
  #options: BindOptions;
  #state: ModelState = "UNAVAILABLE";
  #reason = "not loaded";
  #spec: ModelSpec | undefined;
  #scheduler: Scheduler | undefined;
  #loading: Promise<void> | undefined;

  constructor(options: BindOptions) {
    this.name = validateModelName(options.name);
    this.version = validateVersion(options.version ?? 1);
    const instances = options.instances ?? 1;
    if (!Number.isSafeInteger(instances) || instances < 1)
      throw new ConfigError(`instances must be a positive integer`);
    const maxBatchSize = options.maxBatchSize ?? 0;
    if (!Number.isSafeInteger(maxBatchSize) || maxBatchSize < 0) {
      throw new ConfigError(`maxBatchSize must be a non-negative integer`);
    }
    if (typeof options.fn === "function" || isRequestsFunction(options.fn)) {
      this.backend = new JsBackend(options.fn as ModelFunction | RequestsFunction, instances);
      if (!options.inputs || !options.outputs) {
        throw new ConfigError(`model '${this.name}': a JS function needs inputs and outputs specs`);
      }
    } else if (isBackendFactory(options.fn)) {
      this.backend = options.fn.create({ instances: options.instances });
    } else {
      throw new ConfigError(`model '${this.name}': fn must be a function, python(...) or native(...)`);
    }
    // Specs given to bind() are checked now, so mistakes surface at bind() rather than at serve().
    if (options.inputs) validateTensorSpecs("input", options.inputs);
    if (options.outputs) validateTensorSpecs("output", options.outputs);
    // Batching and queue options too; preferred sizes are checked against a declared maxBatchSize at load.
    const backendDeclares = options.maxBatchSize === undefined && this.backend.kind !== "js";
    resolveScheduling(
      {
        maxBatchSize: backendDeclares ? Number.MAX_SAFE_INTEGER : maxBatchSize,
        batching: options.batching,
        queue: options.queue,
        maxQueueSize: options.maxQueueSize,
      },
      this.name,
    );
    this.#options = options;
    this.stats = new StatisticsRecorder(this.name, this.version);
  }

  get state(): ModelState {
    return this.#state;
  }
  get reason(): string {
    return this.#reason;
  }
  get isReady(): boolean {
    return this.#state === "READY";
  }

  /** The resolved spec; available once loaded. */
  get spec(): ModelSpec {
    if (!this.#spec) throw new UnavailableError(`model '${this.name}' version ${this.version} is not ready`);
    return this.#spec;
  }

  get scheduler(): Scheduler {
    if (!this.#scheduler || this.#state !== "READY") {
      throw new UnavailableError(
        `model '${this.name}' version ${this.version} is not ready (${this.#state.toLowerCase()})`,
      );
    }
    return this.#scheduler;
  }

  /** Starts the backend and resolves the spec. Idempotent. */
  load(ctx: Omit<BackendStartContext, "model" | "version">): Promise<void> {
    this.#loading ??= this.#load(ctx);
    return this.#loading;
  }

  async #load(ctx: Omit<BackendStartContext, "model" | "version">): Promise<void> {
    this.#state = "LOADING";
    this.#reason = "";
    try {
      const declared = await this.backend.start({ ...ctx, model: this.name, version: this.version });
      this.#spec = this.#resolveSpec(declared);
      this.backend.configure?.(this.#spec);
      this.#scheduler = new Scheduler(this.backend, {
        model: this.name,
        maxBatchSize: this.#spec.maxBatchSize,
        scheduling: this.#spec.scheduling ?? resolveScheduling({ maxBatchSize: this.#spec.maxBatchSize }),
        onExecution: (size, timings) => this.stats.recordExecution(size, timings),
      });
      this.#state = "READY";
    } catch (err) {
      this.#state = "UNAVAILABLE";
      this.#reason = err instanceof Error ? err.message : String(err);
      await this.backend.stop().catch(() => {});
      throw isTensorbindError(err, "TB_ERR_CONFIG")
        ? err
        : new ConfigError(`model '${this.name}' failed to load: ${this.#reason}`, { cause: err });
    }
  }

  #resolveSpec(declared: ModelDeclaration | undefined): ModelSpec {
    const o = this.#options;
    const inputs = o.inputs ?? declared?.inputs;
    const outputs = o.outputs ?? declared?.outputs;
    if (!inputs || !outputs) {
      throw new ConfigError(
        `model '${this.name}': no input/output specs given to bind() and none declared by the backend`,
      );
    }
    const maxBatchSize = o.maxBatchSize ?? declared?.maxBatchSize ?? 0;
    if (
      declared?.maxBatchSize !== undefined &&
      o.maxBatchSize !== undefined &&
      declared.maxBatchSize !== o.maxBatchSize
    ) {
      throw new ConfigError(
        `model '${this.name}': bind() says maxBatchSize ${o.maxBatchSize} but the backend declares ${declared.maxBatchSize}`,
      );
    }
    const scheduling: SchedulingConfig = resolveScheduling(
      {
        maxBatchSize,
        batching: o.batching ?? declared?.batching,
        queue: o.queue ?? declared?.queue,
        maxQueueSize: o.maxQueueSize,
      },
      this.name,
    );
    return Object.freeze({
      name: this.name,
      version: this.version,
      inputs: validateTensorSpecs("input", inputs),
      outputs: validateTensorSpecs("output", outputs),
      maxBatchSize,
      strict: o.strict ?? true,
      platform: platformOf(o.modelConfig) ?? `tensorbind_${this.backend.kind}`,
      ...(o.modelConfig !== undefined && { modelConfig: o.modelConfig }),
      instances: this.backend.instances,
      scheduling,
      ...(this.backend.gpus !== undefined && { gpus: this.backend.gpus }),
      ...(this.backend.instanceGroups !== undefined && { instanceGroups: this.backend.instanceGroups }),
    });
  }

  /** What bind() was given (a repository re-binds a module's models into the server's registry). */
  get options(): BindOptions {
    return this.#options;
  }

  /** A new, unloaded instance of the same definition (a stopped backend is not restarted). */
  fresh(): Model {
    return new Model(this.#options);
  }

  /** Stops accepting requests, lets queued and running ones finish, then stops the backend. Idempotent. */
  async unload(): Promise<void> {
    if (this.#state === "UNAVAILABLE" && !this.#scheduler) return;
    this.#state = "UNLOADING";
    const scheduler = this.#scheduler;
    this.#scheduler = undefined;
    await this.#loading?.catch(() => {});
    await scheduler?.stop({ drain: true });
    await this.backend.stop();
    this.#state = "UNAVAILABLE";
    this.#reason = "unloaded";
  }
}

/** What model metadata calls a repository model's platform: Triton's platform, else its backend. */
function platformOf(config: Readonly<Record<string, unknown>> | undefined): string | undefined {
  const p = config?.platform;
  const b = config?.backend;
  return typeof p === "string" && p !== "" ? p : typeof b === "string" && b !== "" ? b : undefined;
}
