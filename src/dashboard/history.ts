import { type DashboardSnapshot, type DashboardSource, dashboardSnapshot } from "./snapshot.js";

/** How often the server keeps a snapshot for the page's history, and for how long. */
export const HISTORY_INTERVAL_MS = 1000;
export const HISTORY_KEEP_MS = 3 * 60_000;

/**
 * The last few minutes of snapshots, kept by the server so that a page opened now draws charts
 * at once instead of starting empty. Counters only: the definitions (config, inputs, outputs)
 * come with the live polls. The timer stops with the server's telemetry.
 */
export class SnapshotHistory {
  readonly #src: DashboardSource;
  readonly #ring: DashboardSnapshot[] = [];
  readonly #timer: NodeJS.Timeout;

  constructor(src: DashboardSource, intervalMs = HISTORY_INTERVAL_MS) {
    this.#src = src;
    this.#record();
    this.#timer = setInterval(() => this.#record(), intervalMs);
    this.#timer.unref();
  }

  /** Oldest first. */
  list(): readonly DashboardSnapshot[] {
    return this.#ring;
  }

  #record(): void {
    if (this.#src.telemetry.stopped) {
      clearInterval(this.#timer);
      return;
    }
    const snap = dashboardSnapshot(this.#src);
    for (const m of snap.models) {
      m.config = null;
      m.inputs = [];
      m.outputs = [];
    }
    this.#ring.push(snap);
    while (this.#ring.length > 0 && snap.time_ms - this.#ring[0]!.time_ms > HISTORY_KEEP_MS)
      this.#ring.shift();
  }
}
