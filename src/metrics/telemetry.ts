import type { Logger } from "../core/logger.js";
import type { Registry } from "../model/registry.js";
import { CpuSampler } from "./cpu.js";
import type { Exposition, FrontendLoadSample } from "./exposition.js";
import { GpuPoller } from "./gpu.js";
import { HistogramSet } from "./model-histograms.js";

export interface TelemetryOptions {
  /** Server id, reported by `tensorbind_info`. */
  readonly id: string;
  /** How often GPU and CPU are sampled (Triton's --metrics-interval-ms). */
  readonly intervalMs: number;
  readonly gpu: boolean;
  readonly cpu: boolean;
  /** The nvidia-smi executable (name on PATH or path). */
  readonly nvidiaSmi: string;
  readonly log: Logger;
}

/**
 * Everything the metrics endpoint and the dashboard read: the models' histograms, the CPU and
 * GPU samplers and the timer that drives them, and (built on the first scrape) the prom-client
 * exposition. One per server; `stop()` leaves no timer or child process behind.
 */
export class Telemetry {
  readonly models: Registry;
  readonly histograms: HistogramSet;
  readonly cpu: CpuSampler | undefined;
  readonly gpu: GpuPoller | undefined;
  readonly startedAt = Date.now();
  /** Requests per frontend thread, set when several threads take requests in (`workers` > 1). */
  frontends: (() => readonly FrontendLoadSample[]) | undefined;
  readonly #id: string;
  readonly #intervalMs: number;
  #exposition: Promise<Exposition> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(models: Registry, options: TelemetryOptions) {
    this.models = models;
    this.#id = options.id;
    this.#intervalMs = options.intervalMs;
    this.histograms = new HistogramSet(models);
    this.cpu = options.cpu ? new CpuSampler() : undefined;
    this.gpu = options.gpu
      ? new GpuPoller({
          command: options.nvidiaSmi,
          log: options.log,
          timeoutMs: Math.max(5000, options.intervalMs),
        })
      : undefined;
  }

  /** Starts observing the models and sampling; the first GPU poll runs in the background. */
  /** Whether `stop()` was called (readers with their own timers stop with it). */
  get stopped(): boolean {
    return this.#stopped;
  }

  start(): void {
    if (this.#stopped || this.#timer) return;
    this.histograms.attach();
    // The first nvidia-smi spawn waits until serve() has returned: start-up does not pay for it.
    setImmediate(() => void this.gpu?.poll());
    this.#timer = setInterval(() => this.#tick(), this.#intervalMs);
    // Sampling must never keep a process alive that is otherwise done.
    this.#timer.unref();
  }

  #tick(): void {
    this.histograms.attach();
    this.cpu?.poll();
    void this.gpu?.poll();
  }

  /** The Prometheus text exposition of every metric. */
  async metrics(): Promise<{ text: string; contentType: string }> {
    // prom-client loads on the first scrape rather than at start-up (it costs tens of ms to import).
    this.#exposition ??= import("./exposition.js").then(({ createExposition }) =>
      createExposition({
        id: this.#id,
        models: this.models,
        histograms: this.histograms,
        cpu: this.cpu,
        gpu: this.gpu,
        frontends: this.frontends,
      }),
    );
    const exposition = await this.#exposition;
    return { text: await exposition.metrics(), contentType: exposition.contentType };
  }

  /** Stops the timer and any nvidia-smi in flight, and stops observing the models. Idempotent. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.gpu?.stop();
    this.histograms.detach();
  }
}
