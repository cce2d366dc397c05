import type { Backend, ExecutionRequest, ExecutionResult } from "../backends/backend.js";
import type { ExecutionTimings } from "../metrics/statistics.js";
import {
  CancelledError,
  DeadlineExceededError,
  InternalError,
  toTensorbindError,
  UnavailableError,
} from "../protocol/errors.js";

/** What the scheduler hands back for one request: its result and where its time went. */
export interface ScheduledResult {
  readonly result: ExecutionResult;
  readonly queueNs: number;
  readonly timings: ExecutionTimings;
}

export interface SchedulerOptions {
  /** Requests waiting beyond this are rejected at once with UNAVAILABLE (0 = unbounded). */
  readonly maxQueueSize?: number;
  /** Called after each backend execution, with its batch size (statistics hook). */
  readonly onExecution?: (batchSize: number, timings: ExecutionTimings) => void;
}

/** How a request is to be scheduled. */
export interface SubmitOptions {
  /** Absolute deadline in performance.now() ms; a request still queued then is never executed. */
  readonly deadline?: number | undefined;
  /** The request's batch dimension (1 for models that do not batch). */
  readonly batchSize?: number;
}

interface Pending {
  readonly request: ExecutionRequest;
  readonly deadline: number | undefined;
  readonly batchSize: number;
  readonly enqueuedNs: bigint;
  readonly resolve: (r: ScheduledResult) => void;
  readonly reject: (e: Error) => void;
  readonly onAbort: () => void;
}

const now = () => process.hrtime.bigint();

/**
 * Per-model queue in front of a backend's instances. Every request passes through here, even
 * with batching off, so batching, priorities and timeouts extend this class rather than
 * bypass it. A request that is cancelled or past its deadline while queued is never executed.
 */
export class Scheduler {
  readonly #backend: Backend;
  readonly #options: SchedulerOptions;
  readonly #queue: Pending[] = [];
  readonly #freeInstances: number[];
  #inFlight = 0;
  #stopped = false;
  #idleWaiters: (() => void)[] = [];

  constructor(backend: Backend, options: SchedulerOptions = {}) {
    this.#backend = backend;
    this.#options = options;
    this.#freeInstances = Array.from({ length: Math.max(1, backend.instances) }, (_, i) => i);
  }

  get queueDepth(): number {
    return this.#queue.length;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Queues a validated request; resolves with its result once an instance has run it. */
  submit(request: ExecutionRequest, options: SubmitOptions = {}): Promise<ScheduledResult> {
    if (this.#stopped) return Promise.reject(new UnavailableError("model is shutting down"));
    if (request.signal?.aborted) return Promise.reject(new CancelledError());
    const max = this.#options.maxQueueSize ?? 0;
    if (max > 0 && this.#queue.length >= max) {
      return Promise.reject(
        new UnavailableError(`model queue is full (${max} requests waiting); try again later`),
      );
    }
    return new Promise<ScheduledResult>((resolve, reject) => {
      const pending: Pending = {
        request,
        deadline: options.deadline,
        batchSize: options.batchSize ?? 1,
        enqueuedNs: now(),
        resolve,
        reject,
        onAbort: () => {
          const i = this.#queue.indexOf(pending);
          if (i >= 0) {
            this.#queue.splice(i, 1);
            reject(new CancelledError());
            this.#notifyIdle();
          }
        },
      };
      request.signal?.addEventListener("abort", pending.onAbort, { once: true });
      this.#queue.push(pending);
      this.#dispatch();
    });
  }

  #dispatch(): void {
    while (this.#queue.length > 0 && this.#freeInstances.length > 0) {
      const pending = this.#queue.shift()!;
      pending.request.signal?.removeEventListener("abort", pending.onAbort);
      if (pending.request.signal?.aborted) {
        pending.reject(new CancelledError());
        continue;
      }
      if (pending.deadline !== undefined && performance.now() >= pending.deadline) {
        pending.reject(new DeadlineExceededError("request timed out in the queue before it was executed"));
        continue;
      }
      const instance = this.#freeInstances.shift()!;
      this.#inFlight++;
      void this.#run(instance, [pending]).finally(() => {
        this.#inFlight--;
        this.#freeInstances.push(instance);
        this.#dispatch();
        this.#notifyIdle();
      });
    }
  }

  async #run(instance: number, batch: Pending[]): Promise<void> {
    const start = now();
    let results: (ExecutionResult | Error)[];
    try {
      results = await this.#backend.execute(
        batch.map((p) => p.request),
        instance,
      );
    } catch (err) {
      const e = toTensorbindError(err);
      for (const p of batch) p.reject(e);
      return;
    }
    const inferNs = Number(now() - start);
    const timings: ExecutionTimings = { computeInputNs: 0, computeInferNs: inferNs, computeOutputNs: 0 };
    // Triton keys batch statistics by the execution's batch size: the sum of the requests' batch dims.
    this.#options.onExecution?.(
      batch.reduce((n, p) => n + p.batchSize, 0),
      timings,
    );
    batch.forEach((p, i) => {
      const r = results[i];
      if (r === undefined) p.reject(new InternalError("backend returned fewer results than requests"));
      else if (r instanceof Error) p.reject(r);
      else p.resolve({ result: r, queueNs: Number(start - p.enqueuedNs), timings });
    });
  }

  #notifyIdle(): void {
    if (this.#queue.length === 0 && this.#inFlight === 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Resolves once nothing is queued or running. */
  drain(): Promise<void> {
    if (this.#queue.length === 0 && this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Refuses new requests; with `drain`, lets queued and running ones finish first, else rejects the queued ones. */
  async stop({ drain = true } = {}): Promise<void> {
    this.#stopped = true;
    if (!drain) {
      for (const p of this.#queue.splice(0)) {
        p.request.signal?.removeEventListener("abort", p.onAbort);
        p.reject(new UnavailableError("model is shutting down"));
      }
    }
    await this.drain();
  }
}
