import type { Backend, BackendStartContext, ExecutionRequest, ExecutionResult } from "../../core/backend.js";
import { ConfigError, TensorbindError, toTensorbindError } from "../../core/errors.js";
import {
  type InferRequest,
  type InferResponse,
  isReservedParameter,
  type Parameters,
} from "../../core/infer.js";
import { attachRelease } from "../../core/release.js";
import type { ModelSpec } from "../../core/spec.js";
import type { Tensor } from "../../core/tensor.js";

/** One step of a pipeline: a model, and how its tensors are named in the pipeline. */
export interface PipelineStep {
  readonly model: string;
  /** A version; latest when left out (Triton's model_version -1). */
  readonly version?: string;
  /** The step model's input name → the pipeline tensor that feeds it. */
  readonly inputs: Readonly<Record<string, string>>;
  /** The step model's output name → the pipeline tensor it becomes. */
  readonly outputs: Readonly<Record<string, string>>;
}

type InferFunction = (request: InferRequest) => Promise<InferResponse>;

/**
 * Runs a pipeline of models (Triton's ensemble) through the server's own request path: every
 * step is a request to its model, so each step is validated, queued, batched with other
 * requests to that model, and counted in that model's statistics. A step runs as soon as all of
 * its inputs exist, so independent branches run at once. Tensors pass from step to step as
 * they came back (for Python models, views of the worker's shared memory).
 */
export class PipelineBackend implements Backend {
  readonly kind = "js" as const;
  // The pipeline itself only waits on its steps; their models bound the concurrency.
  readonly instances = 1024;
  readonly #steps: readonly PipelineStep[];
  readonly #label: string;
  #name = "";
  #outputs: readonly string[] = [];
  #infer: InferFunction | undefined;

  /** `label` names the model kind in errors ("pipeline", or "ensemble" for a repository's). */
  constructor(steps: readonly PipelineStep[], label = "pipeline") {
    this.#steps = steps;
    this.#label = label;
  }

  async start(ctx: BackendStartContext): Promise<undefined> {
    if (ctx.infer === undefined)
      throw new ConfigError(`${this.#label} '${ctx.model}' needs a server to call its steps`);
    this.#name = ctx.model;
    this.#infer = ctx.infer;
    return undefined;
  }

  configure(spec: ModelSpec): void {
    this.#outputs = Object.keys(spec.outputs);
  }

  execute(batch: readonly ExecutionRequest[]): Promise<(ExecutionResult | Error)[]> {
    return Promise.all(batch.map((r) => this.#run(r).catch((err: unknown) => toTensorbindError(err))));
  }

  async stop(): Promise<void> {}

  async #run(request: ExecutionRequest): Promise<ExecutionResult> {
    const responses: InferResponse[] = [];
    let result: ExecutionResult | undefined;
    try {
      result = await this.#runSteps(request, responses);
      return result;
    } finally {
      this.#giveBack(responses, result);
    }
  }

  /**
   * The steps' outputs view memory their models want back (a Python worker's output slots): the
   * ones the pipeline does not answer with go back as soon as it is done, so the next request
   * reuses the same warm slots; the others once the pipeline's own response is written.
   */
  #giveBack(responses: readonly InferResponse[], result: ExecutionResult | undefined): void {
    const answered = new Set(Object.values(result ?? {}).map((t) => t.bytes.buffer));
    const later: (() => void)[] = [];
    for (const r of responses) {
      if (r.release === undefined) continue;
      if (r.outputs.some((t) => answered.has(t.bytes.buffer))) later.push(r.release);
      else r.release();
    }
    if (later.length > 0 && result !== undefined)
      attachRelease(result, () => {
        for (const release of later) release();
      });
  }

  async #runSteps(request: ExecutionRequest, responses: InferResponse[]): Promise<ExecutionResult> {
    const pool = new Map<string, Tensor>(Object.entries(request.inputs));
    const parameters: Parameters = {};
    for (const [k, v] of Object.entries(request.parameters)) if (!isReservedParameter(k)) parameters[k] = v;
    let pending = this.#steps.map((step, index) => ({ step, index }));
    while (pending.length > 0) {
      const ready = pending.filter(({ step }) => Object.values(step.inputs).every((t) => pool.has(t)));
      if (ready.length === 0) {
        const { step, index } = pending[0]!;
        const missing = Object.values(step.inputs).filter((t) => !pool.has(t));
        throw new ConfigError(
          `${this.#label} '${this.#name}' step ${index} (model '${step.model}'): input tensor(s) ${missing.join(", ")} are produced by no step`,
        );
      }
      pending = pending.filter((p) => !ready.includes(p));
      await Promise.all(
        ready.map(({ step, index }) => this.#step(step, index, pool, parameters, request.signal, responses)),
      );
    }
    const result: ExecutionResult = {};
    for (const name of this.#outputs) {
      const t = pool.get(name);
      if (t !== undefined) result[name] = t.rename(name);
    }
    return result;
  }

  async #step(
    step: PipelineStep,
    index: number,
    pool: Map<string, Tensor>,
    parameters: Parameters,
    signal: AbortSignal | undefined,
    responses: InferResponse[],
  ): Promise<void> {
    let response: InferResponse;
    try {
      response = await this.#infer!({
        model: step.model,
        ...(step.version !== undefined && { version: step.version }),
        parameters,
        inputs: Object.entries(step.inputs).map(([input, tensor]) => pool.get(tensor)!.rename(input)),
        outputs: Object.keys(step.outputs).map((name) => ({ name, parameters: {} })),
        ...(signal !== undefined && { signal }),
      });
    } catch (err) {
      const e = toTensorbindError(err);
      // The error keeps its code (a bad input stays a 400) and names the failing step.
      throw new TensorbindError(
        e.code,
        `${this.#label} '${this.#name}' step ${index} (model '${step.model}') failed: ${e.message}`,
        { cause: e },
      );
    }
    responses.push(response);
    for (const t of response.outputs) {
      const target = step.outputs[t.name];
      if (target !== undefined) pool.set(target, t);
    }
  }
}
