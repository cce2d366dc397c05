/**
 * Time as the scheduler sees it. The real clock is `performance.now()` and `setTimeout`; unit
 * tests pass a manual clock so that batching delays and timeouts are decided deterministically.
 */
export interface Clock {
  /** Milliseconds on the `performance.now()` time line (request deadlines use the same one). */
  now(): number;
  /** Calls `fn` once after `ms` milliseconds; the timer must not keep the process alive. */
  setTimer(fn: () => void, ms: number): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

export type TimerHandle = unknown;

const MAX_TIMER_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimer: (fn, ms) => {
    // Node fires a delay above 2^31 - 1 ms (a `timeout` parameter of 1e21 µs) at once: clamp it.
    const t = setTimeout(fn, Math.min(MAX_TIMER_MS, Math.max(0, ms)));
    t.unref();
    return t;
  },
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
