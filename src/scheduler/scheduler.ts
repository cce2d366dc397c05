// Over 400 lines on purpose: one request's whole life (queue, batch timer, dispatch, deadline,
// cancellation, settle) is one state machine read top to bottom; its parts that stand alone live
// beside it (batcher.ts, request-queue.ts, instance-pool.ts, clock.ts).

import type { Backend, ExecutionRequest, ExecutionResult } from "../core/backend.js";
import {
  CancelledError,
  DeadlineExceededError,
  InternalError,
  toTensorbindError,
  UnavailableError,
} from "../core/errors.js";
import { FIFO, resolveScheduling, type SchedulingConfig, type TimeoutAction } from "../core/scheduling.js";
import type { ExecutionTimings } from "../core/statistics.js";
import { type BatchCandidate, type BatcherSettings, nextBatch } from "./batcher.js";
import { bundleMore } from "./bundle.js";
import { type Clock, systemClock, type TimerHandle } from "./clock.js";
import { InstancePool } from "./instance-pool.js";
import { type QueueEntry, RequestQueue } from "./request-queue.js";

/** What the scheduler hands back for one request: its result and where its time went. */
export interface ScheduledResult {
  readonly result: ExecutionResult;
  readonly queueNs: number;
  readonly timings: ExecutionTimings;
}

export interface SchedulerOptions {
  /** The model's name, for messages. */
  readonly model?: string;
  /** > 0: requests carry a batch dimension and may be merged up to this many elements. */
  readonly maxBatchSize?: number;
  /** Batching, priorities and queue policies (default: plain FIFO, no batching). */
  readonly scheduling?: SchedulingConfig;
  /** Shorthand for the default queue policy's `maxQueueSize` when `scheduling` is not given. */
  readonly maxQueueSize?: number;
  /** Called after each backend execution, with its batch size (statistics hook). */
  readonly onExecution?: (batchSize: number, timings: ExecutionTimings) => void;
  /** Time source; tests pass a manual clock. */
  readonly clock?: Clock;
}

/** How a request is to be scheduled. */
export interface SubmitOptions {
  /**
   * A hard deadline on the clock's time line (`performance.now()` ms), e.g. a gRPC deadline: a
   * request still queued then is never executed, and a running one is answered at once.
   */
  readonly deadline?: number | undefined;
  /** The request's batch dimension (1 for models that do not batch). */
  readonly batchSize?: number;
  /** The `priority` request parameter (1 is the highest level; 0 or out of range: the default level). */
  readonly priority?: number | bigint | undefined;
  /** The `timeout` request parameter in µs; replaces the policy's default timeout when the policy allows. */
  readonly timeoutUs?: number | bigint | undefined;
}

type State = "queued" | "running" | "done";

interface Pending extends QueueEntry, BatchCandidate {
  readonly request: ExecutionRequest;
  readonly source: AbortSignal | undefined;
  /** Only when the scheduler may end a running request itself (deadline, rejecting timeout) or the request came without a signal. */
  readonly controller: AbortController | undefined;
  readonly seq: number;
  readonly enqueuedNs: bigint;
  readonly deadline: number | undefined;
  timeoutAt: number | undefined;
  readonly timeoutAction: TimeoutAction;
  state: State;
  timer: TimerHandle | undefined;
  readonly resolve: (r: ScheduledResult) => void;
  readonly reject: (e: Error) => void;
  readonly onAbort: () => void;
}

const hrnow = () => process.hrtime.bigint();

/**
 * Per-model queue, dynamic batcher and instance pool in front of a backend. Every request
 * passes through here, even with batching off.
 *
 * - Requests wait in a priority queue (Triton's priority levels and queue policies): a full
 *   level rejects at once with UNAVAILABLE; a request whose timeout passes is rejected
 *   (never executed) or delayed behind the others, as its level's policy says.
 * - Whenever an instance is free, the batcher (batcher.ts) picks the next batch: requests that
 *   can be concatenated, up to `maxBatchSize` elements, waiting up to `maxQueueDelay` to fill.
 *   Free instances are used in turn (instance-pool.ts), so work spreads evenly over them and,
 *   when they sit on several GPUs, over the GPUs first.
 * - A request whose client goes away or whose deadline passes is removed from the queue; if it
 *   is already running, it is answered at once and its signal aborts (JS functions can stop),
 *   while the instance stays busy until the backend returns.
 */
export class Scheduler {
  readonly #backend: Backend;
  readonly #options: SchedulerOptions;
  readonly #config: SchedulingConfig;
  readonly #clock: Clock;
  readonly #settings: BatcherSettings;
  readonly #queue: RequestQueue<Pending>;
  readonly #instances: InstancePool;
  readonly #model: string;
  #inFlight = 0;
  #executing = 0;
  #stopped = false;
  #dispatching = false;
  #idleWaiters: (() => void)[] = [];
  #batchTimer: TimerHandle | undefined;
  #batchTimerAt = Number.POSITIVE_INFINITY;
  #nextSeq = 0;
  #releaseSeq = 0;
  /** How long the latest execution took (a bundle's share), for bundle.ts. */
  #recentExecutionNs = 0;
  readonly #held = new Map<number, () => void>();

  constructor(backend: Backend, options: SchedulerOptions = {}) {
    this.#backend = backend;
    this.#options = options;
    this.#model = options.model ?? "model";
    const maxBatchSize = options.maxBatchSize ?? 0;
    this.#config =
      options.scheduling ??
      (options.maxQueueSize ? resolveScheduling({ maxBatchSize, maxQueueSize: options.maxQueueSize }) : FIFO);
    this.#clock = options.clock ?? systemClock;
    this.#settings = {
      maxBatchSize,
      dynamic: this.#config.dynamicBatching,
      maxQueueDelayMs: this.#config.maxQueueDelayUs / 1000,
      preferredBatchSizes: this.#config.preferredBatchSizes,
    };
    this.#queue = new RequestQueue<Pending>(this.#config);
    this.#instances = new InstancePool(backend.instances, backend.gpus);
  }

  /** Requests waiting in the queue. */
  get queueDepth(): number {
    return this.#queue.size;
  }

  /** Requests being executed (answered ones excluded). */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Backend executions (batches) running now. */
  get executing(): number {
    return this.#executing;
  }

  /** Queues a validated request; resolves with its result once an instance has run it. */
  submit(request: ExecutionRequest, options: SubmitOptions = {}): Promise<ScheduledResult> {
    if (this.#stopped) return Promise.reject(new UnavailableError(`model '${this.#model}' is shutting down`));
    const source = request.signal;
    if (source?.aborted) return Promise.reject(new CancelledError());
    const now = this.#clock.now();
    if (options.deadline !== undefined && now >= options.deadline) {
      return Promise.reject(new DeadlineExceededError("request deadline passed before it was queued"));
    }
    const level = this.#queue.levelOf(options.priority);
    const policy = this.#queue.policyOf(level);
    if (policy.maxQueueSize > 0 && this.#queue.depth(level) >= policy.maxQueueSize) {
      const where = this.#config.priorityLevels > 0 ? ` at priority level ${level + 1}` : "";
      return Promise.reject(
        new UnavailableError(
          `Exceeds maximum queue size: model '${this.#model}' queue is full (${policy.maxQueueSize} requests waiting${where}); try again later`,
        ),
      );
    }
    const override = options.timeoutUs === undefined ? 0 : Number(options.timeoutUs);
    const timeoutUs = policy.allowTimeoutOverride && override > 0 ? override : policy.defaultTimeoutUs;
    const batchSize = options.batchSize ?? 1;
    const timeoutAt = timeoutUs > 0 ? now + timeoutUs / 1000 : undefined;
    // The backend's signal: the client's own (the frontends always give one), unless the scheduler
    // may have to end the execution itself; then one of its own that the client's abort also trips
    // (see #cancel). A request with no signal gets one, so backends can always read `.aborted`.
    const mayAbort =
      options.deadline !== undefined || (timeoutAt !== undefined && policy.timeoutAction === "REJECT");
    const controller = mayAbort || source === undefined ? new AbortController() : undefined;
    const signal = controller?.signal ?? source;
    return new Promise<ScheduledResult>((resolve, reject) => {
      const p: Pending = {
        request: signal === request.signal ? request : { ...request, signal },
        source,
        controller,
        seq: this.#nextSeq++,
        level,
        delayed: false,
        batchSize,
        key: this.#settings.dynamic && this.#settings.maxBatchSize > 0 ? batchKey(request) : "",
        enqueuedAt: now,
        enqueuedNs: hrnow(),
        deadline: options.deadline,
        timeoutAt,
        timeoutAction: policy.timeoutAction,
        state: "queued",
        timer: undefined,
        resolve,
        reject,
        onAbort: () => this.#cancel(p),
      };
      source?.addEventListener("abort", p.onAbort, { once: true });
      this.#queue.push(p);
      this.#arm(p);
      this.#dispatch();
    });
  }

  #dispatch(): void {
    if (this.#dispatching) return;
    this.#dispatching = true;
    try {
      // Once stopping, nothing waits for a batch to fill.
      const settings = this.#stopped ? { ...this.#settings, maxQueueDelayMs: 0 } : this.#settings;
      let waiting = false;
      while (this.#instances.freeCount > 0 && this.#queue.size > 0) {
        const now = this.#clock.now();
        const decision = nextBatch(this.#queue, now, settings);
        if (decision.kind === "empty") break;
        if (decision.kind === "wait") {
          this.#armBatchTimer(now + decision.ms);
          waiting = true;
          break;
        }
        const batch: Pending[] = [];
        for (const p of decision.batch) {
          this.#queue.remove(p);
          if (!this.#expireIfDue(p, now)) batch.push(p);
        }
        if (batch.length === 0) continue;
        const instance = this.#instances.take();
        const more = this.#backend.executeMany === undefined ? [] : this.#bundleMore();
        this.#execute(instance, more.length === 0 ? [batch] : [batch, ...more]);
      }
      // A batch timer is only needed while a batch waits to fill; a busy pool re-dispatches itself.
      if (!waiting && this.#batchTimer !== undefined) {
        this.#clock.clearTimer(this.#batchTimer);
        this.#batchTimer = undefined;
        this.#batchTimerAt = Number.POSITIVE_INFINITY;
      }
    } finally {
      this.#dispatching = false;
    }
  }

  #armBatchTimer(at: number): void {
    if (this.#batchTimer !== undefined && this.#batchTimerAt <= at) return;
    if (this.#batchTimer !== undefined) this.#clock.clearTimer(this.#batchTimer);
    this.#batchTimerAt = at;
    this.#batchTimer = this.#clock.setTimer(() => {
      this.#batchTimer = undefined;
      this.#batchTimerAt = Number.POSITIVE_INFINITY;
      this.#dispatch();
    }, at - this.#clock.now());
  }

  /** Further batches for the instance just taken (bundle.ts says which may go). */
  #bundleMore(): Pending[][] {
    const more = bundleMore(
      this.#queue,
      this.#config,
      { freeCount: this.#instances.freeCount, instances: this.#backend.instances },
      (p) => {
        let n = 0;
        for (const name in p.request.inputs) n += p.request.inputs[name]!.byteLength;
        return n;
      },
      this.#recentExecutionNs,
    );
    for (const batch of more) for (const p of batch) this.#queue.remove(p);
    return more;
  }

  /** Runs batches on one instance: usually one; several when the backend takes them in one go. */
  #execute(instance: number, batches: Pending[][]): void {
    for (const batch of batches) {
      for (const p of batch) p.state = "running";
      this.#inFlight += batch.length;
    }
    this.#executing += batches.length;
    void this.#run(instance, batches).finally(() => {
      this.#executing -= batches.length;
      this.#instances.give(instance);
      this.#dispatch();
      this.#notifyIdle();
    });
  }

  async #run(instance: number, batches: Pending[][]): Promise<void> {
    const start = hrnow();
    const requests = (batch: Pending[]) => batch.map((p) => p.request);
    let results: (ExecutionResult | Error)[][];
    try {
      results =
        batches.length === 1
          ? [await this.#backend.execute(requests(batches[0]!), instance)]
          : await this.#backend.executeMany!(batches.map(requests), instance);
    } catch (err) {
      const e = toTensorbindError(err);
      for (const batch of batches) for (const p of batch) this.#settle(p, e, true);
      return;
    }
    // Batches run one after another: each is counted an equal share of the time, and the shares
    // before it as its queue time (the worker runs them in order, like the queue would have).
    const shareNs = Number(hrnow() - start) / batches.length;
    this.#recentExecutionNs = shareNs;
    batches.forEach((batch, k) => {
      const inferNs = batches.length === 1 ? shareNs : Math.round(shareNs);
      const timings: ExecutionTimings = { computeInputNs: 0, computeInferNs: inferNs, computeOutputNs: 0 };
      // Triton keys batch statistics by the execution's batch size: the sum of the requests' batch dims.
      this.#options.onExecution?.(
        batch.reduce((n, p) => n + p.batchSize, 0),
        timings,
      );
      const waitedNs = Math.round(k * shareNs);
      batch.forEach((p, i) => {
        const r = results[k]?.[i];
        if (r === undefined)
          this.#settle(p, new InternalError("backend returned fewer results than requests"), true);
        else if (r instanceof Error) this.#settle(p, r, true);
        else this.#settle(p, { result: r, queueNs: Number(start - p.enqueuedNs) + waitedNs, timings }, true);
      });
    });
  }

  /** Arms the request's next timer: its deadline, its REJECT timeout, or its DELAY timeout. */
  #arm(p: Pending): void {
    let at = p.deadline ?? Number.POSITIVE_INFINITY;
    if (p.timeoutAt !== undefined && (p.timeoutAction === "REJECT" || p.state === "queued")) {
      at = Math.min(at, p.timeoutAt);
    }
    if (at === Number.POSITIVE_INFINITY) return;
    p.timer = this.#clock.setTimer(() => this.#onTimer(p), at - this.#clock.now());
  }

  #onTimer(p: Pending): void {
    p.timer = undefined;
    if (p.state === "done") return;
    const now = this.#clock.now();
    if (this.#expireIfDue(p, now)) return;
    if (p.timeoutAt !== undefined && p.timeoutAction === "DELAY" && now >= p.timeoutAt) {
      // Delayed requests still run, after the punctual ones of their level; the timeout is spent.
      p.timeoutAt = undefined;
      if (p.state === "queued") this.#queue.delay(p);
    }
    this.#arm(p);
  }

  /** Rejects the request if its deadline (or REJECT timeout) has passed; true when it did. */
  #expireIfDue(p: Pending, now: number): boolean {
    const deadlinePassed = p.deadline !== undefined && now >= p.deadline;
    const timedOut = p.timeoutAction === "REJECT" && p.timeoutAt !== undefined && now >= p.timeoutAt;
    if (!deadlinePassed && !timedOut) return false;
    if (p.state === "queued") {
      this.#queue.remove(p);
      this.#settle(
        p,
        new DeadlineExceededError(
          timedOut
            ? `request timed out in the queue of model '${this.#model}' and was not executed`
            : `request deadline passed in the queue of model '${this.#model}'; it was not executed`,
        ),
      );
    } else {
      p.controller?.abort();
      this.#settle(
        p,
        new DeadlineExceededError(`request timed out while model '${this.#model}' was executing it`),
      );
    }
    this.#notifyIdle();
    return true;
  }

  #cancel(p: Pending): void {
    if (p.state === "done") return;
    if (p.state === "queued") this.#queue.remove(p);
    p.controller?.abort();
    this.#settle(p, new CancelledError());
    this.#notifyIdle();
  }

  /**
   * Answers a request once. With `preserveOrdering`, results of executions wait for every
   * earlier request's answer; requests failing before they ran (cancelled, timed out, shutting
   * down) are answered at once and only stop holding up the ones behind them.
   */
  #settle(p: Pending, outcome: ScheduledResult | Error, executed = false): void {
    if (p.state === "done") return;
    if (p.state === "running") this.#inFlight--;
    p.state = "done";
    if (p.timer !== undefined) this.#clock.clearTimer(p.timer);
    p.timer = undefined;
    p.source?.removeEventListener("abort", p.onAbort);
    const answer = outcome instanceof Error ? () => p.reject(outcome) : () => p.resolve(outcome);
    if (!this.#config.preserveOrdering) {
      answer();
      return;
    }
    if (executed) {
      this.#held.set(p.seq, answer);
    } else {
      answer();
      this.#held.set(p.seq, () => {});
    }
    for (let next = this.#held.get(this.#releaseSeq); next; next = this.#held.get(this.#releaseSeq)) {
      this.#held.delete(this.#releaseSeq++);
      next();
    }
  }

  #notifyIdle(): void {
    if (this.#queue.size === 0 && this.#inFlight === 0 && this.#executing === 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Resolves once nothing is queued or running. */
  drain(): Promise<void> {
    if (this.#queue.size === 0 && this.#inFlight === 0 && this.#executing === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Refuses new requests; with `drain`, lets queued and running ones finish first, else rejects the queued ones. */
  async stop({ drain = true } = {}): Promise<void> {
    this.#stopped = true;
    if (this.#batchTimer !== undefined) this.#clock.clearTimer(this.#batchTimer);
    this.#batchTimer = undefined;
    if (drain) {
      this.#dispatch(); // sends what was waiting for a batch to fill
    } else {
      for (const p of this.#queue.clear())
        this.#settle(p, new UnavailableError(`model '${this.#model}' is shutting down`));
    }
    await this.drain();
  }
}

/** Requests with the same inputs, datatypes and non-batch dimensions can be concatenated. */
function batchKey(request: ExecutionRequest): string {
  const names = Object.keys(request.inputs).sort();
  let key = "";
  for (const name of names) {
    const t = request.inputs[name]!;
    key += `${name}\u0000${t.datatype}\u0000${t.shape.slice(1).join(",")}\u0001`;
  }
  return key;
}
