import { describe, expect, it } from "vitest";
import { serveOptionsFromFlags } from "../../src/cli/main.js";
import { resolveConfig } from "../../src/config.js";
import {
  CancelledError,
  DeadlineExceededError,
  InternalError,
  InvalidArgumentError,
  UnavailableError,
} from "../../src/core/errors.js";
import { failureReason } from "../../src/core/failure-reason.js";
import { StatisticsRecorder } from "../../src/core/statistics.js";
import { parseTraceparent, requestTrace } from "../../src/core/trace-context.js";
import { parseNvidiaSmiCsv } from "../../src/metrics/gpu.js";
import { BucketHistogram } from "../../src/metrics/histogram.js";

const T = "4bf92f3577b34da6a3ce929d0e0e4736";
const P = "00f067aa0ba902b7";

describe("traceparent", () => {
  it("parses a valid W3C traceparent", () => {
    expect(parseTraceparent(`00-${T}-${P}-01`)).toEqual({ traceId: T, parentId: P, sampled: true });
    expect(parseTraceparent(`00-${T}-${P}-00`)).toEqual({ traceId: T, parentId: P, sampled: false });
    // A later version may carry more fields; version 00 may not.
    expect(parseTraceparent(`01-${T}-${P}-01-extra`)?.traceId).toBe(T);
  });
  it.each([
    ["missing", undefined],
    ["empty", ""],
    ["version ff", `ff-${T}-${P}-01`],
    ["zero trace id", `00-${"0".repeat(32)}-${P}-01`],
    ["zero parent id", `00-${T}-${"0".repeat(16)}-01`],
    ["upper case", `00-${T.toUpperCase()}-${P}-01`],
    ["short trace id", `00-${T.slice(1)}-${P}-01`],
    ["extra field on version 00", `00-${T}-${P}-01-x`],
    ["garbage", "x".repeat(60)],
    ["huge", `00-${T}-${P}-01-${"a".repeat(1000)}`],
  ])("ignores an invalid one (%s)", (_name, value) => {
    expect(parseTraceparent(value)).toBeUndefined();
  });
  it("keeps a sane x-request-id and drops one that could break a log line", () => {
    expect(requestTrace(undefined, "abc-123")).toEqual({ requestId: "abc-123" });
    expect(requestTrace(undefined, 'a"b')).toBeUndefined();
    expect(requestTrace(undefined, "a b")).toBeUndefined();
    expect(requestTrace(undefined, "x".repeat(129))).toBeUndefined();
    expect(requestTrace(`00-${T}-${P}-01`, undefined)).toEqual({ traceId: T, parentId: P, sampled: true });
  });
});

describe("nvidia-smi CSV", () => {
  it("reads each GPU, converting MiB to bytes and percent to a ratio", () => {
    const gpus = parseNvidiaSmiCsv(
      "0, GPU-aaaa-1, NVIDIA H100 80GB HBM3, 37, 81559, 1024, 71.52, 700.00\n" +
        "1, GPU-bbbb-2, NVIDIA H100 80GB HBM3, 100, 81559, 0, [N/A], [Not Supported]\n",
    );
    expect(gpus).toEqual([
      {
        index: 0,
        uuid: "GPU-aaaa-1",
        name: "NVIDIA H100 80GB HBM3",
        utilization: 0.37,
        memoryTotalBytes: 81559 * 2 ** 20,
        memoryUsedBytes: 1024 * 2 ** 20,
        powerWatts: 71.52,
        powerLimitWatts: 700,
      },
      {
        index: 1,
        uuid: "GPU-bbbb-2",
        name: "NVIDIA H100 80GB HBM3",
        utilization: 1,
        memoryTotalBytes: 81559 * 2 ** 20,
        memoryUsedBytes: 0,
        powerWatts: undefined,
        powerLimitWatts: undefined,
      },
    ]);
  });
  it("skips lines that are not GPUs", () => {
    expect(parseNvidiaSmiCsv("")).toEqual([]);
    expect(parseNvidiaSmiCsv("No devices were found\n")).toEqual([]);
    expect(parseNvidiaSmiCsv('0, GPU-"evil", x, 1, 2, 3, 4, 5\n')).toEqual([]);
    expect(parseNvidiaSmiCsv("x, GPU-a, n, 1, 2, 3, 4, 5\n")).toEqual([]);
  });
});

describe("BucketHistogram", () => {
  it("puts each value in the first bucket whose bound is >= it (Prometheus's le)", () => {
    const h = new BucketHistogram([1, 2, 4]);
    for (const v of [0.5, 1, 1.5, 2, 3, 4, 5, 100]) h.observe(v);
    expect([...h.counts]).toEqual([2, 2, 2, 2]);
    expect(h.cumulative()).toEqual([2, 4, 6, 8]);
    expect(h.count).toBe(8);
    expect(h.sum).toBe(117);
  });
});

describe("failure reasons", () => {
  it("maps error codes to Triton's reason labels", () => {
    expect(failureReason(new UnavailableError("queue full"))).toBe("REJECTED");
    expect(failureReason(new DeadlineExceededError())).toBe("REJECTED");
    expect(failureReason(new CancelledError())).toBe("CANCELED");
    expect(failureReason(new InternalError("boom"))).toBe("BACKEND");
    expect(failureReason(new InvalidArgumentError("bad"))).toBe("OTHER");
  });
  it("counts failures by reason, and observers see every record", () => {
    const s = new StatisticsRecorder("m", "1");
    const seen: string[] = [];
    const stop = s.observe({
      success: (_t, _q, b) => seen.push(`ok${b}`),
      failure: (_t, r) => seen.push(r),
      execution: (b) => seen.push(`exec${b}`),
    });
    const timings = { computeInputNs: 1, computeInferNs: 2, computeOutputNs: 3 };
    s.recordExecution(2, timings);
    s.recordSuccess(10, 1, 2, timings);
    s.recordFailure(5, "BACKEND");
    s.recordFailure(5);
    stop();
    s.recordFailure(5, "CANCELED");
    expect(seen).toEqual(["exec2", "ok2", "BACKEND", "OTHER"]);
    expect(s.failureCounts()).toEqual({ REJECTED: 0, CANCELED: 1, BACKEND: 1, OTHER: 1 });
    expect(s.snapshot().inference_stats.fail.count).toBe(3);
  });
});

describe("observability settings", () => {
  it("defaults: metrics on 8002 every 2 s, GPU/CPU metrics and the dashboard on, request logs off", () => {
    const c = resolveConfig({}, {});
    expect(c).toMatchObject({
      metrics: 8002,
      metricsIntervalMs: 2000,
      gpuMetrics: true,
      cpuMetrics: true,
      nvidiaSmi: "nvidia-smi",
      dashboard: true,
      logRequests: false,
    });
  });
  it("reads the environment, and explicit options win", () => {
    const env = {
      TENSORBIND_METRICS_PORT: "9102",
      TENSORBIND_METRICS_INTERVAL_MS: "500",
      TENSORBIND_GPU_METRICS: "false",
      TENSORBIND_NVIDIA_SMI: "/opt/nvidia-smi",
      TENSORBIND_DASHBOARD: "off",
      TENSORBIND_LOG_REQUESTS: "1",
    };
    expect(resolveConfig({}, env)).toMatchObject({
      metrics: 9102,
      metricsIntervalMs: 500,
      gpuMetrics: false,
      nvidiaSmi: "/opt/nvidia-smi",
      dashboard: false,
      logRequests: true,
    });
    expect(resolveConfig({ dashboard: true, metrics: false }, env)).toMatchObject({
      dashboard: true,
      metrics: false,
    });
    expect(() => resolveConfig({}, { TENSORBIND_DASHBOARD: "maybe" })).toThrow(/invalid dashboard/);
    expect(() => resolveConfig({ metricsIntervalMs: 0 }, {})).toThrow(/metricsIntervalMs/);
  });
  it("maps the CLI flags", () => {
    expect(
      serveOptionsFromFlags({
        "metrics-port": "0",
        "metrics-interval-ms": "250",
        "allow-gpu-metrics": "false",
        "allow-cpu-metrics": "true",
        "nvidia-smi": "/x/nvidia-smi",
        dashboard: "false",
        "log-requests": "true",
      }),
    ).toEqual({
      metrics: 0,
      metricsIntervalMs: 250,
      gpuMetrics: false,
      cpuMetrics: true,
      nvidiaSmi: "/x/nvidia-smi",
      dashboard: false,
      logRequests: true,
    });
    expect(serveOptionsFromFlags({ "allow-metrics": "false" }).metrics).toBe(false);
    expect(() => serveOptionsFromFlags({ dashboard: "maybe" })).toThrow(/--dashboard needs true or false/);
  });
});
