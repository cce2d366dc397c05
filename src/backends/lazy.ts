import type {
  Backend,
  BackendStartContext,
  BackendStats,
  ExecutionRequest,
  ExecutionResult,
  ModelDeclaration,
  RequestBuffer,
} from "../core/backend.js";
import type { InstanceGroup } from "../core/instance-groups.js";
import type { ModelSpec } from "../core/spec.js";

/**
 * A backend whose implementation module is imported only when the model loads. The Python
 * backend pulls in zeromq and its native addon;
 * a server that serves only JS models should not pay for them at start-up.
 */
export class LazyBackend implements Backend {
  readonly kind: Backend["kind"];
  readonly instances: number;
  readonly gpus: readonly number[] | undefined;
  readonly instanceGroups: readonly InstanceGroup[] | undefined;
  readonly #load: () => Promise<Backend>;
  #backend: Backend | undefined;
  #executeMany: Backend["executeMany"];

  constructor(
    kind: Backend["kind"],
    instances: number,
    load: () => Promise<Backend>,
    gpus?: readonly number[],
    instanceGroups?: readonly InstanceGroup[],
  ) {
    this.kind = kind;
    this.instances = instances;
    this.#load = load;
    this.gpus = gpus;
    this.instanceGroups = instanceGroups;
  }

  /** The real backend, once loaded. */
  get loaded(): Backend | undefined {
    return this.#backend;
  }

  async start(ctx: BackendStartContext): Promise<ModelDeclaration | undefined> {
    this.#backend ??= await this.#load();
    const backend = this.#backend;
    this.#executeMany = backend.executeMany?.bind(backend);
    return backend.start(ctx);
  }

  /** The loaded backend's, when it has one: the scheduler bundles batches only then. */
  get executeMany(): Backend["executeMany"] {
    return this.#executeMany;
  }

  configure(spec: ModelSpec): void {
    this.#backend?.configure?.(spec);
  }

  execute(batch: readonly ExecutionRequest[], instance: number): Promise<(ExecutionResult | Error)[]> {
    return this.#backend!.execute(batch, instance);
  }

  allocateRequest(byteLength: number, alignAt: number): RequestBuffer | undefined {
    return this.#backend?.allocateRequest?.(byteLength, alignAt);
  }

  stats(): BackendStats | undefined {
    return this.#backend?.stats?.();
  }

  async stop(): Promise<void> {
    await this.#backend?.stop();
  }
}
