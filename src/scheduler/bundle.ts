import type { SchedulingConfig } from "../core/scheduling.js";

/** Most batches one instance takes at once (the first included). */
export const MAX_BUNDLE = 8;

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
 * queue unexecuted). `queue` iterates in scheduling order; the caller removes what is returned.
 */
export function bundleMore<T extends BundleCandidate>(
  queue: Iterable<T> & { readonly size: number },
  config: SchedulingConfig,
  pool: { readonly freeCount: number; readonly instances: number },
): T[][] {
  if (config.dynamicBatching || config.priorityLevels > 0 || pool.freeCount > 0) return [];
  const room = Math.min(MAX_BUNDLE - 1, Math.ceil(queue.size / Math.max(1, pool.instances)));
  const more: T[][] = [];
  if (room === 0) return more;
  for (const p of queue) {
    if (p.deadline !== undefined || p.timeoutAt !== undefined) break;
    more.push([p]);
    if (more.length === room) break;
  }
  return more;
}
