import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { batch } from "../../src/backends/js/decorators/index.js";
import { python } from "../../src/backends/python/index.js";
import { tensor } from "../../src/core/tensor-factory.js";
import type { BindOptions } from "../../src/model/model.js";
import { INTERPRETER } from "../helpers/cli.js";
import { expectGrpcError, type InferenceClient, inferenceClient, rawRequest } from "../helpers/grpc.js";
import { getJson } from "../helpers/json.js";
import { gatedModel } from "../helpers/models.js";
import { inferJson, startServer } from "../helpers/server.js";

type Started = Awaited<ReturnType<typeof startServer>>;

/** Doubles X; ROWS tells each request how many rows the execution that served it held. */
const doubler = (name: string, extra: Partial<BindOptions> = {}): BindOptions => ({
  name,
  maxBatchSize: 16,
  batching: { maxQueueDelayMs: 40 },
  inputs: { X: tensor("FP32", [-1]) },
  outputs: { Y: tensor("FP32", [-1]), ROWS: tensor("INT32", [1]) },
  fn: batch(({ X }) => {
    const rows = X!.shape[0]!;
    return {
      Y: { shape: X!.shape, data: (X!.data as Float32Array).map((v) => v * 2) },
      ROWS: new Int32Array(rows).fill(rows),
    };
  }),
  ...extra,
});

const gates = { priority: gatedModel("gated_priority"), full: gatedModel("gated_full") };
const runningSignals: AbortSignal[] = [];
const slow: BindOptions = {
  name: "slow",
  instances: 2,
  inputs: { X: tensor("INT32", [1]) },
  outputs: { Y: tensor("INT32", [1]) },
  fn: async ({ X }, ctx) => {
    if (ctx.signal) runningSignals.push(ctx.signal);
    await new Promise((r) => setTimeout(r, 600));
    return { Y: X! };
  },
};

const configured: BindOptions = {
  name: "configured",
  maxBatchSize: 8,
  instances: 2,
  batching: { maxQueueDelayUs: 500, preferredBatchSizes: [8, 4], preserveOrdering: true },
  queue: {
    maxSize: 16,
    timeoutMs: 100,
    timeoutAction: "delay",
    priorityLevels: 2,
    defaultPriorityLevel: 2,
    priorities: { 1: { maxSize: 4, timeoutAction: "reject" } },
  },
  inputs: { X: tensor("FP32", [1]) },
  outputs: { Y: tensor("FP32", [1]) },
  fn: ({ X }) => ({ Y: X! }),
};

let server: Started;
let client: InferenceClient;

beforeAll(async () => {
  server = await startServer(
    [
      doubler("doubler"),
      doubler("doubler_grpc"),
      doubler("doubler_mixed"),
      configured,
      { ...gates.priority.model, queue: { priorityLevels: 2 } },
      { ...gates.full.model, queue: { maxSize: 1 } },
      slow,
    ],
    // fetch may leave a keep-alive socket open that never sent a request; Node 20's
    // closeIdleConnections() does not close those, so close() would wait the whole grace period.
    { grpc: 0, shutdownGraceMs: 3000 },
  );
  client = inferenceClient(server.urls.grpc!);
});

afterAll(async () => {
  client?.close();
  for (const g of Object.values(gates)) g.openForever();
  await server?.close();
});

const values = (i: number, width: number) => Array.from({ length: width }, (_, k) => i * 100 + k);
const stats = async (model: string) =>
  (await getJson(`${server.urls.http}/v2/models/${model}/stats`)).model_stats[0];

describe("dynamic batching over HTTP", () => {
  it("merges concurrent requests into batches and answers each with its own rows", async () => {
    const n = 8;
    const responses = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        inferJson(server.urls.http!, "doubler", {
          id: `r${i}`,
          inputs: [{ name: "X", shape: [1, 4], datatype: "FP32", data: values(i, 4) }],
        }),
      ),
    );
    responses.forEach((r, i) => {
      expect(r.status).toBe(200);
      expect(r.body.id).toBe(`r${i}`);
      expect(r.body.outputs.find((o: any) => o.name === "Y").data).toEqual(values(i, 4).map((v) => v * 2));
    });
    const rows = responses.map((r) => r.body.outputs.find((o: any) => o.name === "ROWS").data[0]);
    expect(Math.max(...rows)).toBeGreaterThan(1);
    const s = await stats("doubler");
    expect(s.inference_count).toBe(n);
    expect(s.execution_count).toBeLessThan(n);
    expect(s.inference_stats.queue.count).toBe(n);
    expect(s.batch_stats.some((b: any) => b.batch_size > 1)).toBe(true);
    expect(s.batch_stats.reduce((t: number, b: any) => t + b.batch_size * b.compute_infer.count, 0)).toBe(n);
  });

  it("batches requests of different shapes separately, never mixed", async () => {
    const widths = [3, 5, 3, 5, 3, 5, 3];
    const responses = await Promise.all(
      widths.map((w, i) =>
        inferJson(server.urls.http!, "doubler_mixed", {
          inputs: [{ name: "X", shape: [1, w], datatype: "FP32", data: values(i, w) }],
        }),
      ),
    );
    responses.forEach((r, i) => {
      expect(r.status).toBe(200);
      expect(r.body.outputs.find((o: any) => o.name === "Y").data).toEqual(
        values(i, widths[i]!).map((v) => v * 2),
      );
    });
    const rowsOf = (w: number) =>
      responses
        .filter((_, i) => widths[i] === w)
        .map((r) => r.body.outputs.find((o: any) => o.name === "ROWS").data[0]);
    expect(Math.max(...rowsOf(3))).toBeLessThanOrEqual(4);
    expect(Math.max(...rowsOf(5))).toBeLessThanOrEqual(3);
  });

  it("shows dynamic_batching and instance_group with Triton's field names in the config", async () => {
    const config = await getJson(`${server.urls.http}/v2/models/configured/config`);
    expect(config.dynamic_batching).toEqual({
      preferred_batch_size: [4, 8],
      max_queue_delay_microseconds: 500,
      preserve_ordering: true,
      priority_levels: 2,
      default_priority_level: 2,
      default_queue_policy: {
        timeout_action: "DELAY",
        default_timeout_microseconds: 100000,
        allow_timeout_override: true,
        max_queue_size: 16,
      },
      priority_queue_policy: {
        "1": {
          timeout_action: "REJECT",
          default_timeout_microseconds: 100000,
          allow_timeout_override: true,
          max_queue_size: 4,
        },
      },
    });
    expect(config.instance_group).toEqual([{ name: "configured_0", kind: "KIND_CPU", count: 2, gpus: [] }]);
    const plain = await getJson(`${server.urls.http}/v2/models/slow/config`);
    expect(plain.dynamic_batching).toBeUndefined();
  });

  it("rejects at once with 503 when the queue is full, and serves the admitted requests", async () => {
    const g = gates.full;
    const base = server.urls.http!;
    const body = { inputs: [{ name: "INPUT0", shape: [1], datatype: "INT32", data: [1] }] };
    const busy = inferJson(base, "gated_full", { ...body, id: "busy" });
    while (!g.started.includes("busy")) await new Promise((r) => setTimeout(r, 5));
    const queued = inferJson(base, "gated_full", { ...body, id: "queued" });
    await new Promise((r) => setTimeout(r, 20));
    const t0 = performance.now();
    const rejected = await inferJson(base, "gated_full", { ...body, id: "rejected" });
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(rejected.status).toBe(503);
    expect(rejected.body.error).toMatch(/queue is full \(1 requests waiting\); try again later/);
    const viaGrpc = client.call(
      "ModelInfer",
      rawRequest("gated_full", [{ name: "INPUT0", datatype: "INT32", shape: [1], bytes: new Uint8Array(4) }]),
    );
    await expectGrpcError(viaGrpc, status.UNAVAILABLE);
    g.openForever();
    expect((await busy).status).toBe(200);
    expect((await queued).status).toBe(200);
    expect(g.started).not.toContain("rejected");
  });

  it("answers a running request whose timeout passes at once with 504 and aborts its signal", async () => {
    runningSignals.length = 0;
    const t0 = performance.now();
    const r = await inferJson(server.urls.http!, "slow", {
      parameters: { timeout: 100_000 },
      inputs: [{ name: "X", shape: [1], datatype: "INT32", data: [1] }],
    });
    expect(r.status).toBe(504);
    expect(r.body.error).toMatch(/timed out while model 'slow' was executing/);
    expect(performance.now() - t0).toBeLessThan(550);
    expect(runningSignals.at(-1)?.aborted).toBe(true);
  });

  it("aborts the signal of a running request whose client disconnects; the model keeps serving", async () => {
    runningSignals.length = 0;
    const ac = new AbortController();
    const gone = fetch(`${server.urls.http}/v2/models/slow/infer`, {
      method: "POST",
      body: JSON.stringify({ inputs: [{ name: "X", shape: [1], datatype: "INT32", data: [1] }] }),
      signal: ac.signal,
    }).catch((e: Error) => e.name);
    while (runningSignals.length === 0) await new Promise((r) => setTimeout(r, 5));
    ac.abort();
    expect(await gone).toBe("AbortError");
    for (let i = 0; i < 100 && !runningSignals[0]!.aborted; i++) await new Promise((r) => setTimeout(r, 5));
    expect(runningSignals[0]!.aborted).toBe(true);
    const next = await inferJson(server.urls.http!, "slow", {
      inputs: [{ name: "X", shape: [1], datatype: "INT32", data: [5] }],
    });
    expect(next.status).toBe(200);
  });
});

describe("dynamic batching over gRPC", () => {
  const xBytes = (i: number, width: number) => new Uint8Array(new Float32Array(values(i, width)).buffer);

  it("merges concurrent ModelInfer calls and answers each with its own rows", async () => {
    const n = 6;
    const responses = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        client.call(
          "ModelInfer",
          rawRequest("doubler_grpc", [{ name: "X", datatype: "FP32", shape: [1, 4], bytes: xBytes(i, 4) }], {
            id: `g${i}`,
          }),
        ),
      ),
    );
    responses.forEach((r, i) => {
      expect(r.id).toBe(`g${i}`);
      const y = r.outputs.findIndex((o: any) => o.name === "Y");
      const buf: Buffer = r.raw_output_contents[y];
      expect([
        ...new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength)),
      ]).toEqual(values(i, 4).map((v) => v * 2));
    });
    const s = (await client.call("ModelStatistics", { name: "doubler_grpc" })).model_stats[0];
    expect(Number(s.inference_count)).toBe(n);
    expect(Number(s.execution_count)).toBeLessThan(n);
    expect(s.batch_stats.some((b: any) => Number(b.batch_size) > 1)).toBe(true);
  });

  it("answers ModelConfig with the dynamic_batching block", async () => {
    const { config } = await client.call("ModelConfig", { name: "configured" });
    expect(config.scheduling_choice).toBe("dynamic_batching");
    expect(config.dynamic_batching).toMatchObject({
      preferred_batch_size: [4, 8],
      max_queue_delay_microseconds: "500",
      preserve_ordering: true,
      priority_levels: "2",
      default_priority_level: "2",
      default_queue_policy: { timeout_action: "DELAY", max_queue_size: 16, allow_timeout_override: true },
    });
    // grpc-js (protobufjs) shows 64-bit map keys as 8-byte strings: level 1 is "\u0001\u0000…".
    const levels = Object.entries(config.dynamic_batching.priority_queue_policy);
    expect(levels).toHaveLength(1);
    expect(levels[0]![0].charCodeAt(0)).toBe(1);
    expect(levels[0]![1]).toMatchObject({ timeout_action: "REJECT", max_queue_size: 4 });
    expect(config.instance_group[0]).toMatchObject({ kind: "KIND_CPU", count: 2 });
  });

  it("serves a higher priority first, with the priority sent as uint64 as tritonclient does", async () => {
    const g = gates.priority;
    const call = (id: string, priority?: string) =>
      client.call(
        "ModelInfer",
        rawRequest(
          "gated_priority",
          [{ name: "INPUT0", datatype: "INT32", shape: [1], bytes: new Uint8Array(4) }],
          { id, ...(priority ? { parameters: { priority: { uint64_param: priority } } } : {}) },
        ),
      );
    const busy = call("busy");
    while (!g.started.includes("busy")) await new Promise((r) => setTimeout(r, 5));
    const low = call("low", "2");
    const dflt = call("default");
    const high = call("high", "1");
    await new Promise((r) => setTimeout(r, 50));
    g.openForever();
    await Promise.all([busy, low, dflt, high]);
    expect(g.started).toEqual(["busy", "high", "low", "default"]);
  });
});

describe("dynamic batching of a Python model", () => {
  let py: Started;
  beforeAll(async () => {
    py = await startServer([
      {
        name: "py_batched",
        fn: python("python/tests/fixtures/models.py", "batched", { interpreter: INTERPRETER }),
        batching: { maxQueueDelayMs: 40 },
      },
    ]);
  }, 60_000);
  afterAll(async () => {
    await py?.close();
  });

  it("hands the decorated function whole batches and returns each request its rows", async () => {
    const n = 6;
    const responses = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        inferJson(py.urls.http!, "py_batched", {
          inputs: [{ name: "x", shape: [1, 3], datatype: "FP32", data: values(i, 3) }],
        }),
      ),
    );
    responses.forEach((r, i) => {
      expect(r.status).toBe(200);
      expect(r.body.outputs.find((o: any) => o.name === "y").data).toEqual(values(i, 3).map((v) => v + 1));
    });
    const rows = responses.map((r) => r.body.outputs.find((o: any) => o.name === "rows").data[0]);
    expect(Math.max(...rows)).toBeGreaterThan(1);
    const s = (await getJson(`${py.urls.http}/v2/models/py_batched/stats`)).model_stats[0];
    expect(s.execution_count).toBeLessThan(n);
    const config = await getJson(`${py.urls.http}/v2/models/py_batched/config`);
    expect(config.max_batch_size).toBe(8); // declared by @tensorbind.model in the module
    expect(config.dynamic_batching.max_queue_delay_microseconds).toBe(40_000);
  });
});
