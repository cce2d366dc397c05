/** Delays between quick crashes of one worker; a worker that ran STABLE_AFTER_MS starts over. */
const BACKOFF_MS = [100, 200, 500, 1000, 2000, 5000];
/** A worker that ran this long before dying starts the backoff over (and is no longer crash-looping). */
export const STABLE_AFTER_MS = 30_000;
/** Quick crashes in a row after which an instance counts as crash-looping (logged, and in metrics). */
export const CRASH_LOOP_AFTER = 3;

/**
 * When the workers of one model restart. Each instance backs off on its own quick crashes,
 * except that the model is never left without a worker for a backoff: when no other instance
 * is up or already restarting promptly, the crashed one restarts at once (a kill every 3 s used
 * to leave a one-instance model with no worker for 17.5 s of 60).
 */
export class RestartPolicy {
  /** Instances whose worker is up, with the time it started. */
  readonly #up = new Map<number, number>();
  #prompt: number | undefined;
  readonly #looping = new Set<number>();

  /** The instance's worker is up (started or restarted). */
  started(instance: number): void {
    this.#up.set(instance, Date.now());
    if (this.#prompt === instance) this.#prompt = undefined;
  }

  /**
   * The instance's worker died (or failed to start); returns the delay before its next start.
   * `failures` counts its quick crashes and failed starts in a row.
   */
  died(instance: number, failures: number): number {
    this.#up.delete(instance);
    if (failures >= CRASH_LOOP_AFTER) this.#looping.add(instance);
    const backoff = BACKOFF_MS[Math.min(Math.max(failures, 1), BACKOFF_MS.length) - 1]!;
    if (this.#up.size > 0 || (this.#prompt !== undefined && this.#prompt !== instance)) return backoff;
    this.#prompt = instance;
    return BACKOFF_MS[0]!;
  }

  stopped(instance: number): void {
    this.#up.delete(instance);
    this.#looping.delete(instance);
    if (this.#prompt === instance) this.#prompt = undefined;
  }

  /** Instances whose workers keep dying quickly (one that has now run STABLE_AFTER_MS is out of it). */
  get crashLooping(): number {
    const now = Date.now();
    for (const i of this.#looping) {
      const since = this.#up.get(i);
      if (since !== undefined && now - since > STABLE_AFTER_MS) this.#looping.delete(i);
    }
    return this.#looping.size;
  }
}
