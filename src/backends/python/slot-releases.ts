import type { SlotRef } from "./protocol.js";

/** How long a released output slot waits for a batch to carry it back to the worker. */
export const RELEASE_DELAY_MS = 2;

/**
 * Output slots the server is done with, on their way back to the worker. They ride on the next
 * batch (`take()` when it is sent); a `release` message of their own goes only when no batch took
 * them within RELEASE_DELAY_MS. Each message of its own wakes the worker for nothing: a context
 * switch per request under load (bench/worker-hop).
 */
export class SlotReleases {
  readonly #send: (release: SlotRef[]) => void;
  #slots: SlotRef[] = [];
  /** When the oldest slot waiting now was released. */
  #since = 0;
  #scheduled = false;

  constructor(send: (release: SlotRef[]) => void) {
    this.#send = send;
  }

  push(slot: SlotRef): void {
    if (this.#slots.length === 0) this.#since = performance.now();
    this.#slots.push(slot);
    if (!this.#scheduled) this.#schedule(RELEASE_DELAY_MS);
  }

  /** Everything waiting, for the batch about to be sent. */
  take(): SlotRef[] {
    const out = this.#slots;
    this.#slots = [];
    return out;
  }

  /** Forgets what waits (its worker is gone). */
  clear(): void {
    this.#slots = [];
  }

  #schedule(delayMs: number): void {
    this.#scheduled = true;
    setTimeout(() => {
      this.#scheduled = false;
      if (this.#slots.length === 0) return; // a batch took them
      // A batch took the earlier ones: these wait their own full delay for the next batch.
      const wait = this.#since + RELEASE_DELAY_MS - performance.now();
      if (wait > 0.1) return this.#schedule(wait);
      this.#send(this.take());
    }, delayMs).unref();
  }
}
