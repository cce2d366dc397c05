import type { StatisticsRecorder } from "../core/statistics.js";
import type { Model } from "../model/model.js";
import type { Registry } from "../model/registry.js";
import { BucketHistogram } from "./histogram.js";

/** Request and queue time buckets, in seconds: 50 µs to 60 s. */
export const DURATION_BUCKETS_S = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
  30, 60,
] as const;
/** Execution batch sizes. */
export const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024] as const;

/** The live histograms of one model version, fed by its StatisticsRecorder. */
export interface ModelHistograms {
  readonly model: Model;
  readonly labels: { readonly model: string; readonly version: string };
  readonly requestDuration: BucketHistogram;
  readonly queueDuration: BucketHistogram;
  readonly batchSize: BucketHistogram;
  readonly detach: () => void;
}

/**
 * Request-duration, queue-time and batch-size histograms for every bound model version. They
 * are the only metrics that observe requests as they finish (a binary search and a few
 * additions per request); every counter is read from the statistics at scrape time.
 */
export class HistogramSet {
  readonly #models: Registry;
  readonly #byRecorder = new WeakMap<StatisticsRecorder, ModelHistograms>();
  #attached: ModelHistograms[] = [];

  constructor(models: Registry) {
    this.#models = models;
  }

  /**
   * Starts observing every model not yet observed (a model bound after serve() is picked up at
   * the next scrape, poll or dashboard refresh); returns the histograms of the models bound now,
   * in registry order.
   */
  attach(): ModelHistograms[] {
    const live: ModelHistograms[] = [];
    for (const m of this.#models.list()) {
      let h = this.#byRecorder.get(m.stats);
      if (h === undefined) {
        h = observe(m);
        this.#byRecorder.set(m.stats, h);
      }
      live.push(h);
    }
    // Models that went away (unbound, or replaced by a restart) stop being observed.
    for (const h of this.#attached) if (!live.includes(h)) h.detach();
    this.#attached = live;
    return live;
  }

  /** Stops observing every model. */
  detach(): void {
    for (const h of this.#attached) h.detach();
    this.#attached = [];
  }
}

function observe(m: Model): ModelHistograms {
  const requestDuration = new BucketHistogram(DURATION_BUCKETS_S);
  const queueDuration = new BucketHistogram(DURATION_BUCKETS_S);
  const batchSize = new BucketHistogram(BATCH_BUCKETS);
  const detach = m.stats.observe({
    success(totalNs, queueNs) {
      requestDuration.observe(totalNs / 1e9);
      queueDuration.observe(queueNs / 1e9);
    },
    execution(size) {
      batchSize.observe(size);
    },
  });
  return {
    model: m,
    labels: { model: m.name, version: m.version },
    requestDuration,
    queueDuration,
    batchSize,
    detach,
  };
}
