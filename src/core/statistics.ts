/**
 * Per-model statistics at Triton's stage boundaries (queue, compute_input, compute_infer,
 * compute_output). The statistics extension, Prometheus and the dashboard all read this one source.
 */

export interface Duration {
  count: number;
  ns: number;
}

export interface InferenceStats {
  success: Duration;
  fail: Duration;
  queue: Duration;
  compute_input: Duration;
  compute_infer: Duration;
  compute_output: Duration;
  cache_hit: Duration;
  cache_miss: Duration;
}

export interface BatchStats {
  batch_size: number;
  compute_input: Duration;
  compute_infer: Duration;
  compute_output: Duration;
}

/** One response index of a decoupled model (Triton's `response_stats`). */
export interface ResponseStats {
  compute_infer: Duration;
  compute_output: Duration;
  success: Duration;
  fail: Duration;
  empty_response: Duration;
  cancel: Duration;
}

/** How one response of a decoupled model went: its compute and output times, in nanoseconds. */
export interface ResponseTiming {
  readonly inferNs: number;
  readonly outputNs: number;
  /** `empty`: the final flag alone, no outputs. */
  readonly outcome: "success" | "fail" | "empty";
}

/** Triton's statistics-extension shape for one model version. */
export interface ModelStatistics {
  name: string;
  version: string;
  last_inference: number;
  inference_count: number;
  execution_count: number;
  inference_stats: InferenceStats;
  batch_stats: BatchStats[];
  /** A decoupled model's statistics per response index ("0", "1", …); absent for other models. */
  response_stats?: Record<string, ResponseStats>;
}

const zero = (): Duration => ({ count: 0, ns: 0 });

/** Stage durations of one execution (a batch), in nanoseconds. */
export interface ExecutionTimings {
  computeInputNs: number;
  computeInferNs: number;
  computeOutputNs: number;
}

/**
 * Why a request failed, with Triton's `reason` label values for `nv_inference_request_failure`:
 * REJECTED (refused by the scheduler: queue full, timed out while queued), CANCELED (the client
 * went away), BACKEND (the model's execution failed), OTHER (everything else, e.g. bad input).
 */
export type FailureReason = "REJECTED" | "CANCELED" | "BACKEND" | "OTHER";

export const FAILURE_REASONS: readonly FailureReason[] = ["REJECTED", "CANCELED", "BACKEND", "OTHER"];

/**
 * Sees every record as it is made (histograms, live views). Observers run on the request path:
 * they must be cheap and must not throw.
 */
export interface StatisticsObserver {
  success?(totalNs: number, queueNs: number, batchSize: number, timings: ExecutionTimings): void;
  failure?(totalNs: number, reason: FailureReason): void;
  execution?(batchSize: number, timings: ExecutionTimings): void;
}

export class StatisticsRecorder {
  readonly #name: string;
  readonly #version: string;
  #lastInference = 0;
  #inferenceCount = 0;
  #executionCount = 0;
  readonly #stats: InferenceStats = {
    success: zero(),
    fail: zero(),
    queue: zero(),
    compute_input: zero(),
    compute_infer: zero(),
    compute_output: zero(),
    cache_hit: zero(),
    cache_miss: zero(),
  };
  readonly #batches = new Map<number, BatchStats>();
  readonly #responses = new Map<number, ResponseStats>();
  readonly #failures: Record<FailureReason, number> = { REJECTED: 0, CANCELED: 0, BACKEND: 0, OTHER: 0 };
  #observers: readonly StatisticsObserver[] = [];

  constructor(name: string, version: string) {
    this.#name = name;
    this.#version = version;
  }

  /**
   * One request finished successfully: total time from arrival to response, its time in the
   * queue, and its batch size (each element of a batched request counts as an inference, as in Triton).
   */
  recordSuccess(totalNs: number, queueNs: number, batchSize: number, timings: ExecutionTimings): void {
    add(this.#stats.success, totalNs);
    add(this.#stats.queue, queueNs);
    add(this.#stats.compute_input, timings.computeInputNs);
    add(this.#stats.compute_infer, timings.computeInferNs);
    add(this.#stats.compute_output, timings.computeOutputNs);
    this.#inferenceCount += batchSize;
    this.#lastInference = Date.now();
    for (const o of this.#observers) o.success?.(totalNs, queueNs, batchSize, timings);
  }

  recordFailure(totalNs: number, reason: FailureReason = "OTHER"): void {
    add(this.#stats.fail, totalNs);
    this.#failures[reason]++;
    this.#lastInference = Date.now();
    for (const o of this.#observers) o.failure?.(totalNs, reason);
  }

  /**
   * The responses of one request to a decoupled model, as Triton counts them by index: compute
   * and output time of each; success and fail last the sum of both, an empty response (the final
   * flag alone) its compute time.
   */
  recordResponses(timings: readonly ResponseTiming[]): void {
    timings.forEach((t, i) => {
      let r = this.#responses.get(i);
      if (r === undefined) {
        r = {
          compute_infer: zero(),
          compute_output: zero(),
          success: zero(),
          fail: zero(),
          empty_response: zero(),
          cancel: zero(),
        };
        this.#responses.set(i, r);
      }
      if (t.outcome === "empty") {
        add(r.empty_response, t.inferNs);
        return;
      }
      add(r.compute_infer, t.inferNs);
      add(r.compute_output, t.outputNs);
      add(t.outcome === "success" ? r.success : r.fail, t.inferNs + t.outputNs);
    });
  }

  /** One execution of the backend on a batch of `batchSize` requests. */
  recordExecution(batchSize: number, timings: ExecutionTimings): void {
    this.#executionCount++;
    let b = this.#batches.get(batchSize);
    if (!b) {
      b = { batch_size: batchSize, compute_input: zero(), compute_infer: zero(), compute_output: zero() };
      this.#batches.set(batchSize, b);
    }
    add(b.compute_input, timings.computeInputNs);
    add(b.compute_infer, timings.computeInferNs);
    add(b.compute_output, timings.computeOutputNs);
    for (const o of this.#observers) o.execution?.(batchSize, timings);
  }

  snapshot(): ModelStatistics {
    const copy = (d: Duration): Duration => ({ count: d.count, ns: d.ns });
    const s = this.#stats;
    return {
      name: this.#name,
      version: this.#version,
      last_inference: this.#lastInference,
      inference_count: this.#inferenceCount,
      execution_count: this.#executionCount,
      inference_stats: {
        success: copy(s.success),
        fail: copy(s.fail),
        queue: copy(s.queue),
        compute_input: copy(s.compute_input),
        compute_infer: copy(s.compute_infer),
        compute_output: copy(s.compute_output),
        cache_hit: copy(s.cache_hit),
        cache_miss: copy(s.cache_miss),
      },
      batch_stats: [...this.#batches.values()]
        .sort((a, b) => a.batch_size - b.batch_size)
        .map((b) => ({
          batch_size: b.batch_size,
          compute_input: copy(b.compute_input),
          compute_infer: copy(b.compute_infer),
          compute_output: copy(b.compute_output),
        })),
      ...(this.#responses.size > 0 && {
        response_stats: Object.fromEntries(
          [...this.#responses].map(([i, r]) => [
            String(i),
            {
              compute_infer: copy(r.compute_infer),
              compute_output: copy(r.compute_output),
              success: copy(r.success),
              fail: copy(r.fail),
              empty_response: copy(r.empty_response),
              cancel: copy(r.cancel),
            },
          ]),
        ),
      }),
    };
  }

  /** Failed requests by reason (they add up to `inference_stats.fail.count`). */
  failureCounts(): Readonly<Record<FailureReason, number>> {
    return { ...this.#failures };
  }

  /** Adds an observer; returns the function that removes it. */
  observe(observer: StatisticsObserver): () => void {
    this.#observers = [...this.#observers, observer];
    return () => {
      this.#observers = this.#observers.filter((o) => o !== observer);
    };
  }
}

function add(d: Duration, ns: number): void {
  d.count++;
  d.ns += Math.max(0, Math.round(ns));
}
