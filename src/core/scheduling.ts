import { ConfigError } from "./errors.js";

/**
 * How a model's queue and batcher are configured: the options `bind()` takes, and their
 * resolved form, which mirrors Triton's ModelDynamicBatching / ModelQueuePolicy (times in µs)
 * so that the model config can show it field for field.
 */

/** `bind({ batching })`: how requests are merged into batches. */
export interface BatchingOptions {
  /** How long the oldest request may wait for a batch to fill (default 0: send what is there). */
  maxQueueDelayMs?: number;
  /** The same in microseconds (Triton's unit); give one or the other. */
  maxQueueDelayUs?: number;
  /** Batch sizes to aim for; the batcher sends one of these at once when it can form it. */
  preferredBatchSizes?: readonly number[];
  /** Answer requests in the order they arrived, even when instances finish out of order. */
  preserveOrdering?: boolean;
}

/** A queue policy: Triton's ModelQueuePolicy, for the default level or one priority level. */
export interface QueuePolicyOptions {
  /** Requests allowed to wait; more are rejected at once with 503 / UNAVAILABLE (0 = unbounded). */
  maxSize?: number;
  /** A request waiting longer than this times out (default 0: never). */
  timeoutMs?: number;
  /** The same in microseconds; give one or the other. */
  timeoutUs?: number;
  /** What a timeout does: "reject" (DEADLINE_EXCEEDED, never executed) or "delay" (run after the others). */
  timeoutAction?: "reject" | "delay";
  /** Whether a request's `timeout` parameter (µs) replaces the default timeout (default true). */
  allowTimeoutOverride?: boolean;
}

/** `bind({ queue })`: the default queue policy, plus priority levels and their own policies. */
export interface QueueOptions extends QueuePolicyOptions {
  /** Number of priority levels (1 is the highest); 0 (default) means no priorities. */
  priorityLevels?: number;
  /** The level of a request without a valid `priority` parameter (default: the lowest). */
  defaultPriorityLevel?: number;
  /** Policies of single levels; levels not listed use the default policy. */
  priorities?: Readonly<Record<number, QueuePolicyOptions>>;
}

export type TimeoutAction = "REJECT" | "DELAY";

export interface QueuePolicy {
  readonly timeoutAction: TimeoutAction;
  readonly defaultTimeoutUs: number;
  readonly allowTimeoutOverride: boolean;
  readonly maxQueueSize: number;
}

/** A model's resolved scheduling: what the scheduler runs and the model config shows. */
export interface SchedulingConfig {
  /** Whether queued requests are merged into batches (Triton's dynamic batcher). */
  readonly dynamicBatching: boolean;
  readonly maxQueueDelayUs: number;
  readonly preferredBatchSizes: readonly number[];
  readonly preserveOrdering: boolean;
  readonly priorityLevels: number;
  readonly defaultPriorityLevel: number;
  readonly defaultQueuePolicy: QueuePolicy;
  readonly priorityQueuePolicy: ReadonlyMap<number, QueuePolicy>;
  /** Whether the model asked for any of this (then the config shows a dynamic_batching block). */
  readonly configured: boolean;
}

export const DEFAULT_QUEUE_POLICY: QueuePolicy = Object.freeze({
  timeoutAction: "REJECT",
  defaultTimeoutUs: 0,
  // Triton's default is false; tensorbind honours the `timeout` parameter unless told otherwise.
  allowTimeoutOverride: true,
  maxQueueSize: 0,
});

/** Plain FIFO scheduling, as a model gets without batching or queue options. */
export const FIFO: SchedulingConfig = Object.freeze({
  dynamicBatching: false,
  maxQueueDelayUs: 0,
  preferredBatchSizes: Object.freeze([]),
  preserveOrdering: false,
  priorityLevels: 0,
  defaultPriorityLevel: 0,
  defaultQueuePolicy: DEFAULT_QUEUE_POLICY,
  priorityQueuePolicy: new Map(),
  configured: false,
});

export interface SchedulingInput {
  readonly maxBatchSize: number;
  readonly batching?: boolean | BatchingOptions | undefined;
  readonly queue?: QueueOptions | undefined;
  /** The older `bind({ maxQueueSize })` shorthand for `queue.maxSize`. */
  readonly maxQueueSize?: number | undefined;
}

/**
 * Checks and resolves a model's batching and queue options.
 *
 * @example
 * resolveScheduling({ maxBatchSize: 64, batching: { maxQueueDelayMs: 2, preferredBatchSizes: [16, 32] } });
 */
export function resolveScheduling(input: SchedulingInput, model = "model"): SchedulingConfig {
  const fail = (msg: string): never => {
    throw new ConfigError(`model '${model}': ${msg}`);
  };
  const b = input.batching;
  if (
    b !== undefined &&
    typeof b !== "boolean" &&
    (typeof b !== "object" || b === null || Array.isArray(b))
  ) {
    fail("batching must be true, false or { maxQueueDelayMs, preferredBatchSizes, preserveOrdering }");
  }
  const batching: BatchingOptions | undefined = b === true ? {} : b === false ? undefined : b;
  const dynamicBatching = batching !== undefined;
  const maxQueueDelayUs = micros(
    batching?.maxQueueDelayMs,
    batching?.maxQueueDelayUs,
    "batching.maxQueueDelay",
    fail,
  );
  const preferred = batching?.preferredBatchSizes ?? [];
  if (!Array.isArray(preferred)) fail("batching.preferredBatchSizes must be an array of positive integers");
  for (const s of preferred) {
    if (!Number.isSafeInteger(s) || s < 1)
      fail(`batching.preferredBatchSizes holds ${String(s)}; use positive integers`);
    if (s > Math.max(1, input.maxBatchSize)) {
      fail(`preferred batch size ${s} is larger than maxBatchSize ${input.maxBatchSize}`);
    }
  }
  const preserveOrdering = batching?.preserveOrdering ?? false;
  if (typeof preserveOrdering !== "boolean") fail("batching.preserveOrdering must be a boolean");

  const q = input.queue ?? {};
  if (typeof q !== "object" || q === null || Array.isArray(q)) fail("queue must be an object");
  if (input.maxQueueSize !== undefined && q.maxSize !== undefined && input.maxQueueSize !== q.maxSize) {
    fail(`maxQueueSize ${input.maxQueueSize} and queue.maxSize ${q.maxSize} disagree; give one`);
  }
  const defaultQueuePolicy = resolvePolicy(
    {
      ...q,
      ...(input.maxQueueSize !== undefined && q.maxSize === undefined ? { maxSize: input.maxQueueSize } : {}),
    },
    DEFAULT_QUEUE_POLICY,
    "queue",
    fail,
  );
  const priorityLevels = q.priorityLevels ?? 0;
  if (!Number.isSafeInteger(priorityLevels) || priorityLevels < 0) {
    fail("queue.priorityLevels must be a non-negative integer");
  }
  const defaultPriorityLevel = q.defaultPriorityLevel ?? priorityLevels;
  if (priorityLevels === 0 && q.defaultPriorityLevel !== undefined && q.defaultPriorityLevel !== 0) {
    fail("queue.defaultPriorityLevel needs queue.priorityLevels");
  }
  if (
    !Number.isSafeInteger(defaultPriorityLevel) ||
    (priorityLevels > 0 && (defaultPriorityLevel < 1 || defaultPriorityLevel > priorityLevels))
  ) {
    fail(`queue.defaultPriorityLevel must be between 1 and ${priorityLevels}`);
  }
  const priorityQueuePolicy = new Map<number, QueuePolicy>();
  for (const [key, options] of Object.entries(q.priorities ?? {})) {
    const level = Number(key);
    if (!Number.isSafeInteger(level) || level < 1 || level > priorityLevels) {
      fail(`queue.priorities has level ${key}; levels run from 1 to ${priorityLevels}`);
    }
    priorityQueuePolicy.set(
      level,
      resolvePolicy(options, defaultQueuePolicy, `queue.priorities[${key}]`, fail),
    );
  }
  const configured =
    dynamicBatching ||
    priorityLevels > 0 ||
    defaultQueuePolicy.maxQueueSize > 0 ||
    defaultQueuePolicy.defaultTimeoutUs > 0 ||
    defaultQueuePolicy.timeoutAction !== DEFAULT_QUEUE_POLICY.timeoutAction ||
    defaultQueuePolicy.allowTimeoutOverride !== DEFAULT_QUEUE_POLICY.allowTimeoutOverride;
  return Object.freeze({
    dynamicBatching,
    maxQueueDelayUs,
    preferredBatchSizes: Object.freeze([...new Set(preferred)].sort((x, y) => x - y)),
    preserveOrdering,
    priorityLevels,
    defaultPriorityLevel: priorityLevels === 0 ? 0 : defaultPriorityLevel,
    defaultQueuePolicy,
    priorityQueuePolicy,
    configured,
  });
}

function resolvePolicy(
  o: QueuePolicyOptions,
  base: QueuePolicy,
  where: string,
  fail: (msg: string) => never,
): QueuePolicy {
  if (typeof o !== "object" || o === null) fail(`${where} must be an object`);
  const maxQueueSize = o.maxSize ?? base.maxQueueSize;
  if (!Number.isSafeInteger(maxQueueSize) || maxQueueSize < 0 || maxQueueSize > 2 ** 32 - 1) {
    fail(`${where}.maxSize must be a non-negative integer`);
  }
  const timeoutGiven = o.timeoutMs !== undefined || o.timeoutUs !== undefined;
  const defaultTimeoutUs = timeoutGiven
    ? micros(o.timeoutMs, o.timeoutUs, `${where}.timeout`, fail)
    : base.defaultTimeoutUs;
  const action = o.timeoutAction;
  if (action !== undefined && action !== "reject" && action !== "delay") {
    fail(`${where}.timeoutAction must be "reject" or "delay"`);
  }
  const allowTimeoutOverride = o.allowTimeoutOverride ?? base.allowTimeoutOverride;
  if (typeof allowTimeoutOverride !== "boolean") fail(`${where}.allowTimeoutOverride must be a boolean`);
  return Object.freeze({
    timeoutAction: action === undefined ? base.timeoutAction : action === "delay" ? "DELAY" : "REJECT",
    defaultTimeoutUs,
    allowTimeoutOverride,
    maxQueueSize,
  });
}

/** A duration given in ms or µs (not both), as whole microseconds. */
function micros(
  ms: number | undefined,
  us: number | undefined,
  what: string,
  fail: (msg: string) => never,
): number {
  if (ms !== undefined && us !== undefined) fail(`give ${what}Ms or ${what}Us, not both`);
  const v = ms !== undefined ? ms * 1000 : (us ?? 0);
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || v > Number.MAX_SAFE_INTEGER) {
    fail(`${what} must be a non-negative number`);
  }
  return Math.round(v);
}
