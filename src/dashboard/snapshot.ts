import type { ModelConfig } from "../core/model-config.js";
import type { TensorSpecs } from "../core/spec.js";
import type { FailureReason } from "../core/statistics.js";
import { VERSION } from "../core/version.js";
import { BATCH_BUCKETS, DURATION_BUCKETS_S, type ModelHistograms } from "../metrics/model-histograms.js";
import type { Telemetry } from "../metrics/telemetry.js";
import type { Model } from "../model/model.js";
import { renderModelConfig } from "../model/render-config.js";

/** Where the dashboard reads from. */
export interface DashboardSource {
  readonly telemetry: Telemetry;
  readonly serverId: string;
  readonly isReady: () => boolean;
  /** The other endpoints, for the page's header (e.g. the metrics URL). */
  readonly urls: () => Readonly<Record<string, string | undefined>>;
}

interface TensorInfo {
  name: string;
  datatype: string;
  shape: number[];
}

/** One model version on the dashboard: definition, state and cumulative counters. */
export interface ModelSnapshot {
  name: string;
  version: string;
  state: string;
  reason: string;
  backend: string;
  instances: number | null;
  max_batch_size: number | null;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  /** Triton's model configuration (what GET /v2/models/{m}/config answers), once loaded. */
  config: ModelConfig | null;
  pending: number;
  /** Requests being executed. */
  executing: number;
  /** Executions (batches) running. */
  executions: number;
  success: number;
  fail: number;
  failures: Record<FailureReason, number>;
  inference_count: number;
  execution_count: number;
  request_ns: number;
  queue_ns: number;
  compute_input_ns: number;
  compute_infer_ns: number;
  compute_output_ns: number;
  /** Per-bucket counts (not cumulative, +Inf last) over `buckets.duration_s`. */
  latency: number[];
  queue: number[];
  /** Per-bucket counts over `buckets.batch`. */
  batch: number[];
}

/**
 * Everything the dashboard page draws, as cumulative counters: the page polls this and turns
 * differences between polls into rates and percentiles, so the server keeps no history.
 */
export interface DashboardSnapshot {
  server: {
    id: string;
    version: string;
    ready: boolean;
    uptime_s: number;
    urls: Readonly<Record<string, string | undefined>>;
  };
  time_ms: number;
  buckets: { duration_s: readonly number[]; batch: readonly number[] };
  models: ModelSnapshot[];
  gpus: {
    uuid: string;
    index: number;
    name: string;
    utilization: number | null;
    memory_total_bytes: number | null;
    memory_used_bytes: number | null;
    power_watts: number | null;
    power_limit_watts: number | null;
  }[];
  cpu: { utilization: number; memory_total_bytes: number; memory_used_bytes: number } | null;
}

const tensors = (specs: TensorSpecs): TensorInfo[] =>
  Object.entries(specs).map(([name, s]) => ({ name, datatype: s.datatype, shape: [...s.shape] }));

function modelSnapshot(m: Model, hist: ModelHistograms | undefined) {
  const s = m.stats.snapshot();
  let spec: Model["spec"] | undefined;
  try {
    spec = m.spec;
  } catch {
    spec = undefined; // not loaded (yet): no definition to show
  }
  const ready = m.isReady;
  const out: ModelSnapshot = {
    name: m.name,
    version: m.version,
    state: m.state,
    reason: m.reason,
    backend: m.backend.kind,
    instances: spec?.instances ?? null,
    max_batch_size: spec?.maxBatchSize ?? null,
    inputs: spec ? tensors(spec.inputs) : [],
    outputs: spec ? tensors(spec.outputs) : [],
    config: spec ? renderModelConfig(spec) : null,
    pending: ready ? m.scheduler.queueDepth : 0,
    executing: ready ? m.scheduler.inFlight : 0,
    executions: ready ? m.scheduler.executing : 0,
    success: s.inference_stats.success.count,
    fail: s.inference_stats.fail.count,
    failures: { ...m.stats.failureCounts() },
    inference_count: s.inference_count,
    execution_count: s.execution_count,
    request_ns: s.inference_stats.success.ns,
    queue_ns: s.inference_stats.queue.ns,
    compute_input_ns: s.inference_stats.compute_input.ns,
    compute_infer_ns: s.inference_stats.compute_infer.ns,
    compute_output_ns: s.inference_stats.compute_output.ns,
    latency: hist ? [...hist.requestDuration.counts] : [],
    queue: hist ? [...hist.queueDuration.counts] : [],
    batch: hist ? [...hist.batchSize.counts] : [],
  };
  return out;
}

/** Builds the dashboard's snapshot. */
export function dashboardSnapshot(src: DashboardSource): DashboardSnapshot {
  const { telemetry } = src;
  const hists = telemetry.histograms.attach();
  const cpu = telemetry.cpu?.sample;
  return {
    server: {
      id: src.serverId,
      version: VERSION,
      ready: src.isReady(),
      uptime_s: Math.round((Date.now() - telemetry.startedAt) / 1000),
      urls: src.urls(),
    },
    time_ms: Date.now(),
    buckets: { duration_s: DURATION_BUCKETS_S, batch: BATCH_BUCKETS },
    models: hists.map((h) => modelSnapshot(h.model, h)),
    gpus: (telemetry.gpu?.gpus ?? []).map((g) => ({
      uuid: g.uuid,
      index: g.index,
      name: g.name,
      utilization: g.utilization ?? null,
      memory_total_bytes: g.memoryTotalBytes ?? null,
      memory_used_bytes: g.memoryUsedBytes ?? null,
      power_watts: g.powerWatts ?? null,
      power_limit_watts: g.powerLimitWatts ?? null,
    })),
    cpu: cpu
      ? {
          utilization: cpu.utilization,
          memory_total_bytes: cpu.memoryTotalBytes,
          memory_used_bytes: cpu.memoryUsedBytes,
        }
      : null,
  };
}
