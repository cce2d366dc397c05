import type { SchedulingConfig } from "../core/scheduling.js";

/** Most batches one instance takes at once (the first included). */
export const MAX_BUNDLE = 8;

/**
 * Bundling only while executions take less than this. A message costs ~140 µs of CPU (at 4 KiB,
 * docs/PERFORMANCE.md P11): beside a 10 ms execution that is ~1%, and a bundled request counts as
 * running — cancelled, it is answered at once but still executed — so slow models do not bundle.
 */
export const BUNDLE_BELOW_NS = 10_000_000;

/**
 * Most input bytes the further batches may hold together. Bundling pays for small requests (the
 * message, not the bytes, is the cost); large ones would only make the worker hold all their
 * outputs in its arena at once, where one at a time reuses its slots.
 */
export const MAX_BUNDLE_BYTES = 1 << 20;

/** What a bundled request must not have: anything that could end it while it waits in the bundle. */
export interface BundleCandidate {
  readonly deadline: number | undefined;
  readonly timeoutAt: number | undefined;
}

/**
 * Further batches for an instance that has just taken one, for a backend that runs several in
 * one go (Backend.executeMany: a Python worker gets them in one message, one round trip instead
 * of one each, and still calls the model once per batch, in order). Taken only from what would
 * otherwise wait for a busy instance anyway: when no other instance is free, at most an even share
 * of the queue per instance, and only for plain FIFO models — no dynamic batching (each batch is
 * the queue's head; merging is the batcher's job), no priority levels (whose order must hold at
 * every execution) — and requests without a deadline or timeout (which must be able to leave the
 * queue unexecuted), up to MAX_BUNDLE_BYTES of inputs, and while the model's executions are
 * short (the most recent one, `recentExecutionNs`, below BUNDLE_BELOW_NS). `queue` iterates in scheduling order; the caller removes what is returned.
 */
export function bundleMore<T extends BundleCandidate>(
  queue: Iterable<T> & { readonly size: number },
  config: SchedulingConfig,
  pool: { readonly freeCount: number; readonly instances: number },
  inputBytes: (request: T) => number,
  recentExecutionNs: number,
): T[][] {
  if (config.dynamicBatching || config.priorityLevels > 0 || pool.freeCount > 0) return [];
  if (recentExecutionNs >= BUNDLE_BELOW_NS) return [];
  const room = Math.min(MAX_BUNDLE - 1, Math.ceil(queue.size / Math.max(1, pool.instances)));
  const more: T[][] = [];
  if (room === 0) return more;
  let bytes = 0;
  for (const p of queue) {
    if (p.deadline !== undefined || p.timeoutAt !== undefined) break;
    bytes += inputBytes(p);
    if (bytes > MAX_BUNDLE_BYTES) break;
    more.push([p]);
    if (more.length === room) break;
  }
  return more;
}
