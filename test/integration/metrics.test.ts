import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { batch } from "../../src/backends/js/decorators/index.js";
import { tensor } from "../../src/core/tensor-factory.js";
import type { BindOptions } from "../../src/model/model.js";
import { getJson, jsonOf } from "../helpers/json.js";
import { gatedModel } from "../helpers/models.js";
import { type Exposition, find, scrape, scrapeUntil, value } from "../helpers/prometheus.js";
import { connectOnce } from "../helpers/raw-http.js";
import { inferJson, startServer } from "../helpers/server.js";

const SLEEP_MS = 20;
const sleepy: BindOptions = {
  name: "sleepy",
  maxBatchSize: 8,
  inputs: { X: tensor("INT32", [1]) },
  outputs: { Y: tensor("INT32", [1]) },
  fn: async ({ X }) => {
    await new Promise((r) => setTimeout(r, SLEEP_MS));
    return { Y: X! };
  },
};
const broken: BindOptions = {
  name: "broken",
  inputs: { X: tensor("INT32", [1]) },
  outputs: { Y: tensor("INT32", [1]) },
  fn: () => {
    throw new Error("boom");
  },
};
const rows = (n: number, datatype = "INT32") => ({
  inputs: [{ name: "X", shape: [n, 1], datatype, data: Array.from({ length: n }, (_, i) => i) }],
});
const one = { inputs: [{ name: "X", shape: [1], datatype: "INT32", data: [1] }] };

/** Listening sockets of this process (HTTP, gRPC and metrics servers each hold one). */
const listeningServers = () => process.getActiveResourcesInfo().filter((r) => r === "TCPServerWrap").length;

/** listeningServers() once closed handles are released (libuv frees them a few ticks after close). */
async function settledListeningServers(): Promise<number> {
  let n = listeningServers();
  for (let same = 0, i = 0; same < 5 && i < 200; i++) {
    await new Promise((r) => setTimeout(r, 10));
    const m = listeningServers();
    same = m === n ? same + 1 : 0;
    n = m;
  }
  return n;
}

const delta = (a: Exposition, b: Exposition, name: string, labels: Record<string, string>) =>
  value(b, name, labels) - value(a, name, labels);

describe("Prometheus metrics endpoint", () => {
  it("moves Triton's counters by the right amounts, per model and version, failures by reason", async () => {
    const server = await startServer([sleepy, broken], { metrics: 0 });
    try {
      const base = server.urls.http!;
      const url = server.urls.metrics!;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const before = await scrape(url);
      for (let i = 0; i < 3; i++) expect((await inferJson(base, "sleepy", rows(1))).status).toBe(200);
      expect((await inferJson(base, "sleepy", rows(4))).status).toBe(200);
      expect((await inferJson(base, "sleepy", rows(1, "FP32"))).status).toBe(400);
      for (let i = 0; i < 2; i++) expect((await inferJson(base, "broken", one)).status).toBe(500);
      const after = await scrape(url);

      const sleepyL = { model: "sleepy", version: "1" };
      const brokenL = { model: "broken", version: "1" };
      expect(delta(before, after, "nv_inference_request_success", sleepyL)).toBe(4);
      expect(delta(before, after, "nv_inference_count", sleepyL)).toBe(7); // 1 + 1 + 1 + 4
      expect(delta(before, after, "nv_inference_exec_count", sleepyL)).toBe(4);
      expect(delta(before, after, "nv_inference_request_failure", { ...sleepyL, reason: "OTHER" })).toBe(1);
      expect(delta(before, after, "nv_inference_request_failure", { ...brokenL, reason: "BACKEND" })).toBe(2);
      expect(delta(before, after, "nv_inference_request_success", brokenL)).toBe(0);
      for (const reason of ["REJECTED", "CANCELED"])
        expect(value(after, "nv_inference_request_failure", { ...sleepyL, reason })).toBe(0);
      expect(find(after, "nv_inference_request_failure", brokenL)).toHaveLength(4);

      // Durations: each success slept SLEEP_MS inside compute_infer; the counters are the
      // statistics extension's nanoseconds in whole microseconds.
      const stats = (await getJson(`${base}/v2/models/sleepy/stats`)).model_stats[0];
      const requestUs = value(after, "nv_inference_request_duration_us", sleepyL);
      const inferUs = value(after, "nv_inference_compute_infer_duration_us", sleepyL);
      const inputUs = value(after, "nv_inference_compute_input_duration_us", sleepyL);
      const outputUs = value(after, "nv_inference_compute_output_duration_us", sleepyL);
      const queueUs = value(after, "nv_inference_queue_duration_us", sleepyL);
      expect(requestUs).toBe(Math.floor(stats.inference_stats.success.ns / 1000));
      expect(inferUs).toBe(Math.floor(stats.inference_stats.compute_infer.ns / 1000));
      expect(queueUs).toBe(Math.floor(stats.inference_stats.queue.ns / 1000));
      expect(inferUs).toBeGreaterThanOrEqual(4 * SLEEP_MS * 1000 * 0.95);
      expect(requestUs).toBeGreaterThanOrEqual(inferUs);
      expect(requestUs).toBeLessThan(4 * SLEEP_MS * 1000 + 2_000_000);
      expect(queueUs + inputUs + inferUs + outputUs).toBeLessThanOrEqual(requestUs + 4);
      expect(inputUs).toBeGreaterThan(0);
      expect(outputUs).toBeGreaterThan(0);

      // The histograms agree with the counters.
      expect(value(after, "tensorbind_request_duration_seconds_count", sleepyL)).toBe(4);
      expect(value(after, "tensorbind_request_duration_seconds_sum", sleepyL) * 1e6).toBeCloseTo(
        stats.inference_stats.success.ns / 1000,
        -1,
      );
      const buckets = find(after, "tensorbind_request_duration_seconds_bucket", sleepyL);
      expect(buckets.at(-1)!.labels.le).toBe("+Inf");
      expect(buckets.at(-1)!.value).toBe(4);
      for (let i = 1; i < buckets.length; i++)
        expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
      expect(value(after, "tensorbind_request_duration_seconds_bucket", { ...sleepyL, le: "0.01" })).toBe(0);
      expect(value(after, "tensorbind_batch_size_count", sleepyL)).toBe(4);
      expect(value(after, "tensorbind_batch_size_sum", sleepyL)).toBe(7);
      expect(value(after, "tensorbind_batch_size_bucket", { ...sleepyL, le: "1" })).toBe(3);
      expect(value(after, "tensorbind_batch_size_bucket", { ...sleepyL, le: "4" })).toBe(4);

      // Types and help as Triton declares them.
      expect(after.types.get("nv_inference_request_success")).toBe("counter");
      expect(after.types.get("nv_inference_request_duration_us")).toBe("counter");
      expect(after.types.get("nv_inference_pending_request_count")).toBe("gauge");
      expect(after.types.get("tensorbind_request_duration_seconds")).toBe("histogram");
      expect(after.help.get("nv_inference_count")).toBe(
        "Number of inferences performed (does not include cached requests)",
      );
      expect(value(after, "tensorbind_model_ready", sleepyL)).toBe(1);
      expect(value(after, "tensorbind_info", {})).toBe(1);
    } finally {
      await server.close();
    }
  });

  it("counts dynamically batched requests as Triton does: one execution, every inference", async () => {
    const doubler: BindOptions = {
      name: "doubler",
      maxBatchSize: 16,
      batching: { maxQueueDelayMs: 200 },
      inputs: { X: tensor("FP32", [-1]) },
      outputs: { Y: tensor("FP32", [-1]) },
      fn: batch(({ X }) => ({ Y: { shape: X!.shape, data: (X!.data as Float32Array).map((v) => v * 2) } })),
    };
    const server = await startServer([doubler], { metrics: 0 });
    try {
      const base = server.urls.http!;
      const req = (n: number) => ({
        inputs: [{ name: "X", shape: [n, 1], datatype: "FP32", data: Array.from({ length: n }, () => 1) }],
      });
      // Four requests of 1, 1, 2 and 3 rows arrive within the queue delay: one execution of 7.
      const results = await Promise.all([1, 1, 2, 3].map((n) => inferJson(base, "doubler", req(n))));
      expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200]);
      const m = await scrape(server.urls.metrics!);
      const labels = { model: "doubler", version: "1" };
      expect(value(m, "nv_inference_request_success", labels)).toBe(4);
      expect(value(m, "nv_inference_count", labels)).toBe(7);
      expect(value(m, "nv_inference_exec_count", labels)).toBe(1);
      expect(value(m, "tensorbind_batch_size_count", labels)).toBe(1);
      expect(value(m, "tensorbind_batch_size_sum", labels)).toBe(7);
      expect(value(m, "tensorbind_batch_size_bucket", { ...labels, le: "4" })).toBe(0);
      expect(value(m, "tensorbind_batch_size_bucket", { ...labels, le: "8" })).toBe(1);
      // Requests waited for the batch to fill: the queue counter saw it.
      expect(value(m, "nv_inference_queue_duration_us", labels)).toBeGreaterThan(0);
      const snap = await getJson(`${base}/dashboard/api/snapshot`);
      expect(snap.models[0].config.dynamic_batching.max_queue_delay_microseconds).toBe(200_000);
    } finally {
      await server.close();
    }
  });

  it("reports queued requests as pending, and counts rejected and cancelled ones", async () => {
    const gated = gatedModel();
    // A client that aborts a queued request leaves a connection that holds close() for ~4 s
    // (the HTTP frontend's drain, not metrics): a short grace keeps the test quick.
    const server = await startServer([{ ...gated.model, maxQueueSize: 2 }], {
      metrics: 0,
      shutdownGraceMs: 500,
    });
    try {
      const base = server.urls.http!;
      const labels = { model: "gated", version: "1" };
      const body = { inputs: [{ name: "INPUT0", shape: [1], datatype: "INT32", data: [1] }] };
      const running = inferJson(base, "gated", body);
      while (gated.started.length < 1) await new Promise((r) => setTimeout(r, 5));
      const queued = inferJson(base, "gated", body);
      const abort = new AbortController();
      const cancelled = fetch(`${base}/v2/models/gated/infer`, {
        method: "POST",
        body: JSON.stringify(body),
        signal: abort.signal,
      }).catch((e: Error) => e.name);
      let m = await scrapeUntil(
        server.urls.metrics!,
        (e) => value(e, "nv_inference_pending_request_count", labels) >= 2,
      );
      expect(value(m, "nv_inference_pending_request_count", labels)).toBe(2);
      expect(value(m, "tensorbind_queue_depth", labels)).toBe(2);
      expect(value(m, "tensorbind_executions_in_flight", labels)).toBe(1);
      // The queue is full: the next request is turned away at once.
      expect((await inferJson(base, "gated", body)).status).toBe(503);
      abort.abort();
      expect(await cancelled).toBe("AbortError");
      // The server has seen the abort (its counter moved) before the gate opens.
      await scrapeUntil(
        server.urls.metrics!,
        (e) => value(e, "nv_inference_request_failure", { ...labels, reason: "CANCELED" }) === 1,
      );
      gated.openForever();
      expect((await running).status).toBe(200);
      expect((await queued).status).toBe(200);
      m = await scrape(server.urls.metrics!);
      expect(value(m, "nv_inference_request_failure", { ...labels, reason: "REJECTED" })).toBe(1);
      expect(value(m, "nv_inference_request_failure", { ...labels, reason: "CANCELED" })).toBe(1);
      expect(value(m, "nv_inference_request_success", labels)).toBe(2);
      expect(value(m, "nv_inference_pending_request_count", labels)).toBe(0);
    } finally {
      gated.openForever();
      await server.close();
    }
  });

  it("serves CPU and process gauges with sane values, and no GPU series without nvidia-smi", async () => {
    const server = await startServer([sleepy], { metrics: 0, nvidiaSmi: "/nonexistent/nvidia-smi" });
    try {
      const m = await scrape(server.urls.metrics!);
      const total = value(m, "nv_cpu_memory_total_bytes");
      const used = value(m, "nv_cpu_memory_used_bytes");
      expect(total).toBeGreaterThan(100 * 2 ** 20);
      expect(used).toBeGreaterThan(0);
      expect(used).toBeLessThan(total);
      const util = value(m, "nv_cpu_utilization");
      expect(util).toBeGreaterThanOrEqual(0);
      expect(util).toBeLessThanOrEqual(1);
      expect(value(m, "process_resident_memory_bytes")).toBeGreaterThan(10 * 2 ** 20);
      expect(m.text).not.toMatch(/nv_gpu_/);
    } finally {
      await server.close();
    }
  });

  it("answers only GET and HEAD on /metrics", async () => {
    const server = await startServer([sleepy], { metrics: 0 });
    try {
      const url = server.urls.metrics!;
      const root = await fetch(url.replace(/\/metrics$/, "/"));
      expect(root.status).toBe(404);
      expect((await jsonOf(root)).error).toMatch(/GET \/metrics/);
      const post = await fetch(url, { method: "POST", body: "x" });
      expect(post.status).toBe(405);
      expect(post.headers.get("allow")).toBe("GET, HEAD");
      const head = await fetch(url, { method: "HEAD" });
      expect(head.status).toBe(200);
      expect(head.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
      const q = await fetch(`${url}?name[]=x`);
      expect(q.status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it("is off with metrics: false, and a port in use is a clear error that leaves nothing behind", async () => {
    const off = await startServer([sleepy], { metrics: false });
    expect(off.urls.metrics).toBeUndefined();
    await off.close();

    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const before = await settledListeningServers(); // the blocker's included
      const err = await startServer([sleepy], { metrics: port }).catch((e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(
        new RegExp(`metrics port ${port} .* already in use.*--metrics-port`),
      );
      // The HTTP and gRPC listeners opened before the metrics port failed are closed again.
      expect(await settledListeningServers()).toBe(before);
    } finally {
      blocker.close();
    }
  });

  it("stops with the server: the metrics port closes and no listening socket is left", async () => {
    const before = await settledListeningServers();
    const server = await startServer([sleepy], { metrics: 0, metricsIntervalMs: 50 });
    const url = server.urls.metrics!;
    await scrape(url);
    await new Promise((r) => setTimeout(r, 120)); // a few sampling ticks
    await server.close();
    const refused = await connectOnce(url).then(
      () => "connected",
      (e: NodeJS.ErrnoException) => e.code,
    );
    expect(refused).toBe("ECONNREFUSED");
    expect(await settledListeningServers()).toBe(before);
    // (That polling stops and no nvidia-smi is left running is tested in gpu-metrics.test.ts.)
  });
});
