import { Counter, Gauge, type Metric, Registry as PromRegistry } from "prom-client";
import { FAILURE_REASONS, type ModelStatistics } from "../core/statistics.js";
import { VERSION } from "../core/version.js";
import type { Model } from "../model/model.js";
import type { Registry } from "../model/registry.js";
import type { CpuSampler } from "./cpu.js";
import type { GpuPoller, GpuSample } from "./gpu.js";
import type { BucketHistogram } from "./histogram.js";
import type { HistogramSet, ModelHistograms } from "./model-histograms.js";

/** What the exposition reads; every value is read at scrape time. */
export interface ExpositionSource {
  readonly id: string;
  readonly models: Registry;
  readonly histograms: HistogramSet;
  readonly cpu: CpuSampler | undefined;
  readonly gpu: GpuPoller | undefined;
  /** Requests per frontend thread, when several take requests in (`workers`). */
  readonly frontends?: (() => readonly FrontendLoadSample[]) | undefined;
}

/** What one frontend thread (a slot, over its restarts) has taken in. */
export interface FrontendLoadSample {
  readonly frontend: number;
  readonly requests: number;
  readonly restarts: number;
}

/** A prom-client registry over the server's numbers; `metrics()` renders the text format. */
export interface Exposition {
  metrics(): Promise<string>;
  readonly contentType: string;
}

type Labels = { model: string; version: string };
const labelsOf = (m: Model): Labels => ({ model: m.name, version: m.version });
const us = (ns: number) => Math.floor(ns / 1000);

/**
 * Registers every metric family with prom-client: Triton's (`nv_inference_*` with labels `model`
 * and `version`, `nv_gpu_*` with `gpu_uuid`, `nv_cpu_*`), tensorbind's own (`tensorbind_*`) and
 * the standard `process_*` gauges. Counters are read from the models' statistics at scrape time
 * — the statistics extension's numbers, so both always agree and the request path pays nothing
 * for them. This module is loaded on the first scrape, keeping prom-client off start-up.
 *
 * @example
 * const exposition = createExposition({ id: "tensorbind", models, histograms, cpu, gpu });
 * const text = await exposition.metrics();
 */
export function createExposition(src: ExpositionSource): Exposition {
  const prom = new PromRegistry();
  const scrape = new ScrapeView(src.models, src.histograms);
  registerInferenceMetrics(prom, src.models, scrape);
  new Gauge({
    name: "tensorbind_info",
    help: "Constant 1, labelled with the tensorbind version and the server id",
    labelNames: ["version", "server_id"],
    registers: [prom],
  }).set({ version: VERSION, server_id: src.id }, 1);
  registerProcessMetrics(prom);
  if (src.frontends) registerFrontendMetrics(prom, src.frontends);
  if (src.cpu) registerCpuMetrics(prom, src.cpu);
  const gpu = src.gpu;
  let gpuRegistered = false;
  return {
    contentType: prom.contentType,
    metrics(): Promise<string> {
      // GPU families appear once a GPU has been seen: no GPU, no series (not even empty families).
      if (gpu && !gpuRegistered && gpu.gpus.length > 0) {
        gpuRegistered = true;
        registerGpuMetrics(prom, gpu);
      }
      scrape.reset();
      return prom.metrics();
    },
  };
}

/** What one scrape reads, taken once however many metric families read it. */
class ScrapeView {
  readonly #models: Registry;
  readonly #histograms: HistogramSet;
  #snapshots: [Labels, ModelStatistics][] | undefined;
  #attached: ReturnType<HistogramSet["attach"]> | undefined;

  constructor(models: Registry, histograms: HistogramSet) {
    this.#models = models;
    this.#histograms = histograms;
  }

  reset(): void {
    this.#snapshots = undefined;
    this.#attached = undefined;
  }

  snapshots(): [Labels, ModelStatistics][] {
    this.#snapshots ??= this.#models.list().map((m) => [labelsOf(m), m.stats.snapshot()]);
    return this.#snapshots;
  }

  histograms(): ReturnType<HistogramSet["attach"]> {
    this.#attached ??= this.#histograms.attach();
    return this.#attached;
  }
}

function registerInferenceMetrics(prom: PromRegistry, models: Registry, scrape: ScrapeView): void {
  const snapshots = () => scrape.snapshots();
  const counter = (name: string, help: string, value: (s: ModelStatistics) => number) =>
    new Counter({
      name,
      help,
      labelNames: ["model", "version"],
      registers: [prom],
      collect() {
        this.reset();
        for (const [labels, s] of snapshots()) this.inc(labels, value(s));
      },
    });
  counter(
    "nv_inference_request_success",
    "Number of successful inference requests, all batch sizes",
    (s) => s.inference_stats.success.count,
  );
  new Counter({
    name: "nv_inference_request_failure",
    help: "Number of failed inference requests, all batch sizes",
    labelNames: ["model", "reason", "version"],
    registers: [prom],
    collect() {
      this.reset();
      for (const m of models.list()) {
        const counts = m.stats.failureCounts();
        // Label order as Triton prints it (alphabetical), for scripts that match text.
        for (const reason of FAILURE_REASONS)
          this.inc({ model: m.name, reason, version: m.version }, counts[reason]);
      }
    },
  });
  counter(
    "nv_inference_count",
    "Number of inferences performed (does not include cached requests)",
    (s) => s.inference_count,
  );
  counter(
    "nv_inference_exec_count",
    "Number of model executions performed (does not include cached requests)",
    (s) => s.execution_count,
  );
  counter(
    "nv_inference_request_duration_us",
    "Cumulative inference request duration in microseconds (includes cached requests)",
    (s) => us(s.inference_stats.success.ns),
  );
  counter(
    "nv_inference_queue_duration_us",
    "Cumulative inference queuing duration in microseconds (includes cached requests)",
    (s) => us(s.inference_stats.queue.ns),
  );
  counter(
    "nv_inference_compute_input_duration_us",
    "Cumulative compute input duration in microseconds (does not include cached requests)",
    (s) => us(s.inference_stats.compute_input.ns),
  );
  counter(
    "nv_inference_compute_infer_duration_us",
    "Cumulative compute inference duration in microseconds (does not include cached requests)",
    (s) => us(s.inference_stats.compute_infer.ns),
  );
  counter(
    "nv_inference_compute_output_duration_us",
    "Cumulative inference compute output duration in microseconds (does not include cached requests)",
    (s) => us(s.inference_stats.compute_output.ns),
  );

  const gauge = (name: string, help: string, value: (m: Model) => number | undefined) =>
    new Gauge({
      name,
      help,
      labelNames: ["model", "version"],
      registers: [prom],
      collect() {
        this.reset();
        for (const m of models.list()) {
          const v = value(m);
          if (v !== undefined) this.set(labelsOf(m), v);
        }
      },
    });
  gauge(
    "nv_inference_pending_request_count",
    "Instantaneous number of pending requests awaiting execution per-model.",
    (m) => (m.isReady ? m.scheduler.queueDepth : 0),
  );
  gauge(
    "tensorbind_queue_depth",
    "Requests waiting in the model's queue (the same count as nv_inference_pending_request_count)",
    (m) => (m.isReady ? m.scheduler.queueDepth : 0),
  );
  gauge(
    "tensorbind_executions_in_flight",
    "Executions (batches) running on the model's instances right now",
    (m) => (m.isReady ? m.scheduler.executing : 0),
  );
  gauge("tensorbind_model_ready", "1 when the model version is ready to serve, else 0", (m) =>
    m.isReady ? 1 : 0,
  );
  gauge("tensorbind_model_instances", "Instances the model version may run at once", (m) =>
    m.isReady ? m.spec.instances : undefined,
  );
  new Counter({
    name: "tensorbind_worker_restarts_total",
    help: "Worker processes restarted after they died (Python models)",
    labelNames: ["model", "version"],
    registers: [prom],
    collect() {
      this.reset();
      for (const m of models.list()) {
        const s = m.backend.stats?.();
        if (s !== undefined) this.inc(labelsOf(m), s.workerRestarts);
      }
    },
  });
  gauge(
    "tensorbind_worker_crash_loop",
    "Instances whose workers keep dying soon after they start (Python models)",
    (m) => m.backend.stats?.()?.crashLooping,
  );
  gauge(
    "tensorbind_shared_memory_bytes",
    "Shared memory mapped for the model's worker arenas (inputs and outputs), in bytes",
    (m) => m.backend.stats?.()?.sharedMemoryBytes,
  );

  const series = (pick: (h: ModelHistograms) => BucketHistogram) => () =>
    scrape.histograms().map((h) => ({ labels: h.labels, histogram: pick(h) }));
  registerHistogram(
    prom,
    "tensorbind_request_duration_seconds",
    "Time from a request's arrival to its response, successful requests, in seconds",
    series((h) => h.requestDuration),
  );
  registerHistogram(
    prom,
    "tensorbind_queue_duration_seconds",
    "Time successful requests waited in the model's queue, in seconds",
    series((h) => h.queueDuration),
  );
  registerHistogram(
    prom,
    "tensorbind_batch_size",
    "Batch size of each model execution (the sum of its requests' batch dimensions)",
    series((h) => h.batchSize),
  );
}

/**
 * A histogram family whose series are our BucketHistograms, read at scrape time (prom-client's
 * Histogram would hash its labels on every observation, on the request path).
 */
function registerHistogram(
  prom: PromRegistry,
  name: string,
  help: string,
  series: () => { labels: Readonly<Record<string, string>>; histogram: BucketHistogram }[],
): void {
  const family = {
    name,
    help,
    type: "histogram",
    aggregator: "sum",
    reset(): void {},
    get() {
      const values: { value: number; labels: Record<string, string | number>; metricName: string }[] = [];
      for (const { labels, histogram } of series()) {
        const cumulative = histogram.cumulative();
        histogram.bounds.forEach((le, i) => {
          values.push({ labels: { ...labels, le }, value: cumulative[i]!, metricName: `${name}_bucket` });
        });
        values.push({
          labels: { ...labels, le: "+Inf" },
          value: histogram.count,
          metricName: `${name}_bucket`,
        });
        values.push({ labels: { ...labels }, value: histogram.sum, metricName: `${name}_sum` });
        values.push({ labels: { ...labels }, value: histogram.count, metricName: `${name}_count` });
      }
      return { name, help, type: "histogram", aggregator: "sum", values };
    },
  };
  // prom-client formats any object with this shape; its types only name its own classes.
  prom.registerMetric(family as unknown as Metric);
}

function registerCpuMetrics(prom: PromRegistry, cpu: CpuSampler): void {
  const gauge = (name: string, help: string, value: () => number) =>
    new Gauge({
      name,
      help,
      registers: [prom],
      collect() {
        this.set(value());
      },
    });
  gauge("nv_cpu_utilization", "CPU utilization rate [0.0 - 1.0]", () => cpu.sample.utilization);
  gauge("nv_cpu_memory_total_bytes", "CPU total memory (RAM), in bytes", () => cpu.sample.memoryTotalBytes);
  gauge("nv_cpu_memory_used_bytes", "CPU used memory (RAM), in bytes", () => cpu.sample.memoryUsedBytes);
}

/** Exactly one label, `gpu_uuid`, and plain decimal values: perf_analyzer's parser needs both. */
function registerGpuMetrics(prom: PromRegistry, gpu: GpuPoller): void {
  const gauge = (name: string, help: string, value: (g: GpuSample) => number | undefined) =>
    new Gauge({
      name,
      help,
      labelNames: ["gpu_uuid"],
      registers: [prom],
      collect() {
        this.reset();
        for (const g of gpu.gpus) {
          const v = value(g);
          if (v !== undefined) this.set({ gpu_uuid: g.uuid }, v);
        }
      },
    });
  gauge("nv_gpu_utilization", "GPU utilization rate [0.0 - 1.0)", (g) => g.utilization);
  gauge("nv_gpu_memory_total_bytes", "GPU total memory, in bytes", (g) => g.memoryTotalBytes);
  gauge("nv_gpu_memory_used_bytes", "GPU used memory, in bytes", (g) => g.memoryUsedBytes);
  gauge("nv_gpu_power_usage", "GPU power usage in watts", (g) => g.powerWatts);
  gauge("nv_gpu_power_limit", "GPU power management limit in watts", (g) => g.powerLimitWatts);
}

/** The standard process metrics that generic dashboards expect, read at scrape time. */
function registerProcessMetrics(prom: PromRegistry): void {
  const startSeconds = Math.round(Date.now() / 1000 - process.uptime());
  new Gauge({
    name: "process_resident_memory_bytes",
    help: "Resident memory size of the server process, in bytes",
    registers: [prom],
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });
  new Counter({
    name: "process_cpu_seconds_total",
    help: "User and system CPU time spent by the server process, in seconds",
    registers: [prom],
    collect() {
      const u = process.cpuUsage();
      this.reset();
      this.inc((u.user + u.system) / 1e6);
    },
  });
  new Gauge({
    name: "process_start_time_seconds",
    help: "Start time of the server process since the Unix epoch, in seconds",
    registers: [prom],
    collect() {
      this.set(startSeconds);
    },
  });
}

function registerFrontendMetrics(prom: PromRegistry, load: () => readonly FrontendLoadSample[]): void {
  const counter = (name: string, help: string, value: (f: FrontendLoadSample) => number) =>
    new Counter({
      name,
      help,
      labelNames: ["frontend"],
      registers: [prom],
      collect() {
        this.reset();
        for (const f of load()) this.inc({ frontend: String(f.frontend) }, value(f));
      },
    });
  counter(
    "tensorbind_frontend_requests_total",
    "Inference requests taken in by each frontend thread (workers > 1)",
    (f) => f.requests,
  );
  counter(
    "tensorbind_frontend_restarts_total",
    "Times a frontend thread ended unexpectedly and was replaced",
    (f) => f.restarts,
  );
}
