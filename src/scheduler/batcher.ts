/**
 * The dynamic batcher's decision, as a pure function of the queue and the time, so that it can
 * be tested with a manual clock. It follows Triton's DynamicBatchScheduler:
 *
 * - a batch holds only requests that can be concatenated: the same inputs, datatypes and
 *   non-batch dimensions as the oldest (highest-priority) queued request. Others wait for a
 *   batch of their own; they are never mixed in;
 * - if a preferred batch size can be formed, it is sent at once; if more is queued than the
 *   largest preferred size (or `maxBatchSize` when none is given), the largest batch up to it is sent;
 * - otherwise the batch waits for more requests until its oldest request has waited
 *   `maxQueueDelay`; then whatever is there is sent (with no delay, at once).
 *
 * Sizes count batch elements (the sum of the requests' first dimensions), as in Triton.
 */

export interface BatchCandidate {
  /** The request's batch dimension (1 for models that do not batch). */
  readonly batchSize: number;
  /** Requests with equal keys can be concatenated along the batch dimension. */
  readonly key: string;
  /** When it was queued, in clock milliseconds. */
  readonly enqueuedAt: number;
}

export interface BatcherSettings {
  /** 0: requests have no batch dimension and are never merged. */
  readonly maxBatchSize: number;
  /** false: every request is its own batch (Triton's default scheduler). */
  readonly dynamic: boolean;
  readonly maxQueueDelayMs: number;
  /** Ascending. */
  readonly preferredBatchSizes: readonly number[];
}

export type BatchDecision<T> =
  | { readonly kind: "send"; readonly batch: T[] }
  | { readonly kind: "wait"; readonly ms: number }
  | { readonly kind: "empty" };

/** How many queued requests one decision looks at, so a huge queue costs bounded time per batch. */
export const SCAN_LIMIT = 4096;

/**
 * Picks the next batch from `queue` (in scheduling order: priority, then arrival).
 *
 * @example
 * nextBatch(queue, clock.now(), { maxBatchSize: 8, dynamic: true, maxQueueDelayMs: 1, preferredBatchSizes: [4] });
 */
export function nextBatch<T extends BatchCandidate>(
  queue: Iterable<T>,
  now: number,
  settings: BatcherSettings,
): BatchDecision<T> {
  const it = queue[Symbol.iterator]();
  const first = it.next();
  if (first.done) return { kind: "empty" };
  const head = first.value;
  if (!settings.dynamic || settings.maxBatchSize === 0) return { kind: "send", batch: [head] };

  const max = settings.maxBatchSize;
  const preferred = settings.preferredBatchSizes;
  const maxPreferred = preferred.length > 0 ? Math.min(max, preferred[preferred.length - 1]!) : max;
  const batch: T[] = [head];
  let size = head.batchSize;
  let oldest = head.enqueuedAt;
  /** Number of requests in the largest prefix whose size is a preferred size. */
  let preferredCount = preferred.includes(size) ? 1 : 0;
  /** Number of requests in the largest prefix not above maxPreferred. */
  let withinPreferred = size <= maxPreferred ? 1 : 0;
  let full = size >= max;
  let scanned = 1;
  for (let n = it.next(); !n.done && !full && scanned < SCAN_LIMIT; n = it.next(), scanned++) {
    const c = n.value;
    if (c.key !== head.key) continue; // not concatenable: it heads a later batch
    if (size + c.batchSize > max) {
      full = true; // the batch cannot grow any further
      break;
    }
    batch.push(c);
    size += c.batchSize;
    if (c.enqueuedAt < oldest) oldest = c.enqueuedAt;
    if (preferred.includes(size)) preferredCount = batch.length;
    if (size <= maxPreferred) withinPreferred = batch.length;
    if (size >= max) full = true;
  }
  const delay = settings.maxQueueDelayMs;
  const waited = now - oldest;
  const delayExceeded = delay > 0 && waited >= delay;
  // Triton's "best preferred" batch: the largest prefix of a preferred size, else, when more is
  // queued than the largest preferred size, the largest prefix within it.
  const beyondPreferred = full || size > maxPreferred;
  const best = preferredCount > 0 ? preferredCount : beyondPreferred ? withinPreferred : 0;
  if (best > 0 && !delayExceeded)
    return { kind: "send", batch: best === batch.length ? batch : batch.slice(0, best) };
  if (full || size >= maxPreferred || delay === 0 || delayExceeded) return { kind: "send", batch };
  return { kind: "wait", ms: delay - waited };
}
