import { createServer } from "node:net";
import { type ClientDuplexStream, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Datatype } from "../../src/core/datatypes.js";
import { silentLogger } from "../../src/core/logger.js";
import { Tensor } from "../../src/core/tensor.js";
import {
  expectGrpcError,
  healthClient,
  type InferenceClient,
  inferenceClient,
  rawRequest,
  typedContents,
} from "../helpers/grpc.js";
import {
  ALL_DATATYPES,
  gatedModel,
  identityModels,
  paramsModel,
  SAMPLES,
  sampleBytes,
  simpleModel,
} from "../helpers/models.js";
import { startServer } from "../helpers/server.js";

type Started = Awaited<ReturnType<typeof startServer>>;

// One gated model per test, so that a request left over from one test cannot hold another's instance.
const gates = {
  cancel: gatedModel("gated_cancel"),
  deadline: gatedModel("gated_deadline"),
  timeout: gatedModel("gated_timeout"),
};
let server: Started;
let client: InferenceClient;

beforeAll(async () => {
  server = await startServer(
    [...identityModels(), simpleModel, paramsModel, ...Object.values(gates).map((g) => g.model)],
    { grpc: 0 },
  );
  client = inferenceClient(server.urls.grpc!);
});

afterAll(async () => {
  client?.close();
  for (const g of Object.values(gates)) g.openForever();
  await server?.close();
});

const identity = (dt: Datatype) => `identity_${dt.toLowerCase()}`;

const typedSample = (dt: Datatype) => typedContents(dt, SAMPLES[dt]);

describe("gRPC server RPCs", () => {
  it("answers ServerLive, ServerReady and ServerMetadata", async () => {
    expect(await client.call("ServerLive", {})).toEqual({ live: true });
    expect(await client.call("ServerReady", {})).toEqual({ ready: true });
    const meta = await client.call("ServerMetadata", {});
    expect(meta.name).toBe("tensorbind");
    expect(meta.extensions).toContain("model_configuration");
  });

  it("answers ModelReady, false for an unknown model as Triton does", async () => {
    expect(await client.call("ModelReady", { name: "simple" })).toEqual({ ready: true });
    expect(await client.call("ModelReady", { name: "simple", version: "1" })).toEqual({ ready: true });
    expect(await client.call("ModelReady", { name: "nope" })).toEqual({ ready: false });
  });

  it("answers ModelMetadata with -1 batch dims", async () => {
    const meta = await client.call("ModelMetadata", { name: "simple" });
    expect(meta).toMatchObject({ name: "simple", versions: ["1"], platform: "tensorbind_js" });
    expect(meta.inputs[0]).toEqual({ name: "INPUT0", datatype: "INT32", shape: ["-1", "16"] });
  });

  it("answers NOT_FOUND with Triton's wording for an unknown model", async () => {
    const e = await expectGrpcError(client.call("ModelMetadata", { name: "nope" }), status.NOT_FOUND);
    expect(e.details).toBe("Request for unknown model: 'nope' is not found");
    await expectGrpcError(client.call("ModelConfig", { name: "nope" }), status.NOT_FOUND);
    await expectGrpcError(client.call("ModelStatistics", { name: "nope" }), status.NOT_FOUND);
    const infer = client.call(
      "ModelInfer",
      rawRequest("nope", [{ name: "X", datatype: "FP32", shape: [1], bytes: new Uint8Array(4) }]),
    );
    expect((await expectGrpcError(infer, status.NOT_FOUND)).details).toBe(
      "Request for unknown model: 'nope' is not found",
    );
  });

  it("answers ModelConfig as Triton's ModelConfig message", async () => {
    const { config } = await client.call("ModelConfig", { name: "simple" });
    expect(config).toMatchObject({
      name: "simple",
      max_batch_size: 8,
      platform: "tensorbind_js",
      backend: "tensorbind_js",
    });
    expect(config.input[0]).toMatchObject({ name: "INPUT0", data_type: "TYPE_INT32", dims: ["16"] });
    expect(config.instance_group[0]).toMatchObject({ kind: "KIND_CPU", count: 1 });
    const bytes = await client.call("ModelConfig", { name: "identity_bytes" });
    expect(bytes.config.input[0].data_type).toBe("TYPE_STRING");
  });

  it("answers ModelStatistics for one model and for all", async () => {
    await client.call(
      "ModelInfer",
      rawRequest("identity_int8", [
        { name: "INPUT0", datatype: "INT8", shape: [1, 3], bytes: sampleBytes("INT8") },
      ]),
    );
    const one = await client.call("ModelStatistics", { name: "identity_int8" });
    expect(one.model_stats).toHaveLength(1);
    const s = one.model_stats[0];
    expect(s.name).toBe("identity_int8");
    expect(Number(s.inference_stats.success.count)).toBeGreaterThanOrEqual(1);
    expect(Number(s.inference_stats.queue.count)).toBeGreaterThanOrEqual(1);
    const all = await client.call("ModelStatistics", {});
    expect(all.model_stats.length).toBe(ALL_DATATYPES.length + 2 + Object.keys(gates).length);
  });

  it("answers RepositoryIndex", async () => {
    const { models } = await client.call("RepositoryIndex", { ready: true });
    expect(models).toContainEqual({ name: "simple", version: "1", state: "READY", reason: "" });
  });

  it.each([
    "RepositoryModelLoad",
    "RepositoryModelUnload",
    "CudaSharedMemoryRegister",
    "TraceSetting",
    "LogSettings",
  ])("answers UNIMPLEMENTED for %s", async (method) => {
    await expectGrpcError(client.call(method, {}), status.UNIMPLEMENTED);
  });

  it("answers grpc.health.v1 Check", async () => {
    const health = healthClient(server.urls.grpc!);
    try {
      expect(await health.check("")).toEqual({ status: "SERVING" });
      expect(await health.check("inference.GRPCInferenceService")).toEqual({ status: "SERVING" });
      await expectGrpcError(health.check("no.such.Service"), status.NOT_FOUND);
      expect(await health.watch("")).toBe(status.UNIMPLEMENTED);
    } finally {
      health.close();
    }
  });
});

describe("gRPC ModelInfer", () => {
  it.each(ALL_DATATYPES)("round-trips %s through raw_input_contents", async (dt) => {
    const bytes = sampleBytes(dt);
    const res = await client.call(
      "ModelInfer",
      rawRequest(identity(dt), [{ name: "INPUT0", datatype: dt, shape: [1, 3], bytes }]),
    );
    expect(res.outputs).toEqual([
      { name: "OUTPUT0", datatype: dt, shape: ["1", "3"], parameters: {}, contents: null },
    ]);
    expect(res.raw_output_contents).toHaveLength(1);
    expect(Buffer.compare(res.raw_output_contents[0], Buffer.from(bytes))).toBe(0);
  });

  it.each(ALL_DATATYPES.filter((d) => d !== "FP16" && d !== "BF16"))(
    "round-trips %s through typed contents",
    async (dt) => {
      const res = await client.call("ModelInfer", {
        model_name: identity(dt),
        inputs: [{ name: "INPUT0", datatype: dt, shape: [1, 3], contents: typedSample(dt) }],
      });
      // Responses always come back raw, whatever the request used.
      expect(res.raw_output_contents).toHaveLength(1);
      const out = new Tensor("OUTPUT0", dt, [1, 3], res.raw_output_contents[0]);
      expect(out.toArray()).toEqual(Tensor.fromArray(dt, [1, 3], SAMPLES[dt]).toArray());
    },
  );

  it.each(["FP16", "BF16"] as const)("rejects %s in typed contents: raw only", async (dt) => {
    const req = {
      model_name: identity(dt),
      inputs: [{ name: "INPUT0", datatype: dt, shape: [1, 1], contents: { fp32_contents: [1] } }],
    };
    const e = await expectGrpcError(client.call("ModelInfer", req), status.INVALID_ARGUMENT);
    expect(e.details).toMatch(/raw_input_contents/);
  });

  it("echoes the request id and honours requested outputs", async () => {
    const a = Int32Array.from({ length: 16 }, (_, i) => i);
    const bytes = new Uint8Array(a.buffer);
    const inputs = ["INPUT0", "INPUT1"].map((name) => ({ name, datatype: "INT32", shape: [1, 16], bytes }));
    const res = await client.call(
      "ModelInfer",
      rawRequest("simple", inputs, { id: "req-7", outputs: [{ name: "OUTPUT1" }] }),
    );
    expect(res.id).toBe("req-7");
    expect(res.model_name).toBe("simple");
    expect(res.model_version).toBe("1");
    expect(res.outputs.map((o: { name: string }) => o.name)).toEqual(["OUTPUT1"]);
    expect([...new Int32Array(new Uint8Array(res.raw_output_contents[0]).buffer)]).toEqual(
      new Array(16).fill(0),
    );
    const bad = rawRequest("simple", inputs, { outputs: [{ name: "NOPE" }] });
    await expectGrpcError(client.call("ModelInfer", bad), status.INVALID_ARGUMENT);
  });

  it("passes every InferParameter kind to the model, 64-bit values exactly", async () => {
    const res = await client.call(
      "ModelInfer",
      rawRequest("params", [{ name: "INPUT0", datatype: "INT32", shape: [1], bytes: new Uint8Array(4) }], {
        parameters: {
          b: { bool_param: true },
          i: { int64_param: "-9007199254740993" },
          s: { string_param: "x" },
          d: { double_param: 0.5 },
          u: { uint64_param: "18446744073709551615" },
          priority: { uint64_param: "2" },
          small: { int64_param: "42" },
        },
      }),
    );
    const json = new Tensor("PARAMS", "BYTES", [1], res.raw_output_contents[0]).strings()[0]!;
    expect(JSON.parse(json)).toEqual({
      b: true,
      i: "-9007199254740993n",
      s: "x",
      d: 0.5,
      u: "18446744073709551615n",
      priority: 2,
      small: 42,
    });
  });

  const one = { name: "INPUT0", datatype: "FP32", shape: [1, 2] };
  it.each([
    [
      "mixed raw and typed contents",
      { inputs: [{ ...one, contents: { fp32_contents: [1, 2] } }], raw_input_contents: [Buffer.alloc(8)] },
      /mixed/,
    ],
    [
      "fewer raw contents than inputs",
      { inputs: [one, { ...one, name: "INPUT1" }], raw_input_contents: [Buffer.alloc(8)] },
      /raw_input_contents/,
    ],
    [
      "more raw contents than inputs",
      { inputs: [one], raw_input_contents: [Buffer.alloc(8), Buffer.alloc(8)] },
      /raw_input_contents/,
    ],
    ["a truncated raw buffer", { inputs: [one], raw_input_contents: [Buffer.alloc(7)] }, /byte size/],
    [
      "an overflowing shape",
      {
        inputs: [{ ...one, shape: ["4294967296", "4294967296", "4294967296"] }],
        raw_input_contents: [Buffer.alloc(8)],
      },
      /too large/,
    ],
    [
      "a negative dimension",
      { inputs: [{ ...one, shape: [-1, 2] }], raw_input_contents: [Buffer.alloc(8)] },
      /invalid dimension/,
    ],
    [
      "an unknown datatype",
      { inputs: [{ ...one, datatype: "FP8" }], raw_input_contents: [Buffer.alloc(8)] },
      /datatype/,
    ],
    [
      "typed contents of the wrong count",
      { inputs: [{ ...one, contents: { fp32_contents: [1] } }] },
      /needs 2/,
    ],
    [
      "typed contents in the wrong field",
      { inputs: [{ ...one, contents: { int_contents: [1, 2] } }] },
      /fp32_contents/,
    ],
  ])("rejects %s with INVALID_ARGUMENT", async (_what, body, message) => {
    const e = await expectGrpcError(
      client.call("ModelInfer", { model_name: "identity_fp32", ...body }),
      status.INVALID_ARGUMENT,
    );
    expect(e.details).toMatch(message);
  });

  it("rejects a truncated BYTES element", async () => {
    const bytes = Buffer.from([5, 0, 0, 0, 65]);
    const req = rawRequest("identity_bytes", [{ name: "INPUT0", datatype: "BYTES", shape: [1, 1], bytes }]);
    await expectGrpcError(client.call("ModelInfer", req), status.INVALID_ARGUMENT);
  });

  it("sends and receives a tensor above 4 MiB", async () => {
    const data = new Float32Array(1_500_000).map((_, i) => i); // 6 MB
    const bytes = new Uint8Array(data.buffer);
    const res = await client.call(
      "ModelInfer",
      rawRequest("identity_fp32", [{ name: "INPUT0", datatype: "FP32", shape: [1, data.length], bytes }]),
    );
    expect(res.raw_output_contents[0].length).toBe(bytes.length);
    expect(Buffer.compare(res.raw_output_contents[0], Buffer.from(bytes.buffer))).toBe(0);
  });

  it("accepts gzip-compressed requests", async () => {
    const gz = inferenceClient(server.urls.grpc!, { "grpc.default_compression_algorithm": 2 });
    try {
      const bytes = sampleBytes("INT32");
      const res = await gz.call(
        "ModelInfer",
        rawRequest("identity_int32", [{ name: "INPUT0", datatype: "INT32", shape: [1, 3], bytes }]),
      );
      expect(Buffer.compare(res.raw_output_contents[0], Buffer.from(bytes))).toBe(0);
    } finally {
      gz.close();
    }
  });
});

describe("gRPC ModelStreamInfer", () => {
  function openStream(c: InferenceClient) {
    const call = (c.raw.ModelStreamInfer as () => ClientDuplexStream<unknown, any>).call(c.raw);
    const responses: any[] = [];
    const ended = new Promise<void>((resolve, reject) => {
      call.on("data", (r) => responses.push(r));
      call.on("end", resolve);
      call.on("error", reject);
    });
    return { call, responses, ended };
  }

  it("answers in order, reports a bad request in-band and keeps the stream open", async () => {
    const { call, responses, ended } = openStream(client);
    const good = (id: string) =>
      rawRequest(
        "identity_int32",
        [{ name: "INPUT0", datatype: "INT32", shape: [1, 3], bytes: sampleBytes("INT32") }],
        { id },
      );
    call.write(good("a"));
    call.write({
      model_name: "identity_int32",
      id: "bad",
      inputs: [{ name: "INPUT0", datatype: "INT32", shape: [1, 3] }],
      raw_input_contents: [Buffer.alloc(2)],
    });
    call.write({ model_name: "nope", id: "unknown" });
    call.write(good("b"));
    call.end();
    await ended;
    expect(responses.map((r) => r.infer_response?.id)).toEqual(["a", "bad", "unknown", "b"]);
    expect(responses.map((r) => r.error_message === "")).toEqual([true, false, false, true]);
    expect(responses[1].error_message).toMatch(/byte size/);
    expect(responses[2].error_message).toBe("Request for unknown model: 'nope' is not found");
    expect(responses[3].infer_response.raw_output_contents).toHaveLength(1);
  });
});

describe("gRPC cancellation and deadlines", () => {
  const req = (model: string, id: string) =>
    rawRequest(model, [{ name: "INPUT0", datatype: "INT32", shape: [1], bytes: new Uint8Array(4) }], {
      id,
    });
  const until = async (cond: () => boolean) => {
    for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  };

  it("does not execute a queued request whose client cancelled", async () => {
    const first = client.call("ModelInfer", req("gated_cancel", "first"));
    await until(() => gates.cancel.started.includes("first"));
    // The instance is busy: this one waits in the queue, then its client cancels it.
    let cancelledWith: number | undefined;
    const queued = (client.raw.ModelInfer as (...a: unknown[]) => { cancel(): void }).call(
      client.raw,
      req("gated_cancel", "cancelled"),
      (err: { code: number } | null) => {
        cancelledWith = err?.code ?? status.OK;
      },
    );
    await new Promise((r) => setTimeout(r, 100));
    queued.cancel();
    await until(() => cancelledWith !== undefined);
    expect(cancelledWith).toBe(status.CANCELLED);
    await new Promise((r) => setTimeout(r, 100));
    gates.cancel.release();
    await first;
    // Give the scheduler a moment to pick its next request: the cancelled one must be skipped.
    await new Promise((r) => setTimeout(r, 100));
    expect(gates.cancel.executed).toContain("first");
    expect(gates.cancel.started).not.toContain("cancelled");
  });

  it("ends a queued request at its gRPC deadline without executing it", async () => {
    const first = client.call("ModelInfer", req("gated_deadline", "busy"));
    await until(() => gates.deadline.started.includes("busy"));
    const late = client.call("ModelInfer", req("gated_deadline", "late"), {
      deadline: new Date(Date.now() + 200),
    });
    await expectGrpcError(late, status.DEADLINE_EXCEEDED);
    // The client's timer may fire a moment before the server's copy of the deadline passes.
    await until(() => server.registry.get("gated_deadline").scheduler.queueDepth === 0);
    gates.deadline.release();
    await first;
    expect(gates.deadline.started).not.toContain("late");
  });

  it("turns the timeout parameter (µs) into a deadline", async () => {
    const first = client.call("ModelInfer", req("gated_timeout", "busy2"));
    await until(() => gates.timeout.started.includes("busy2"));
    const late = client.call("ModelInfer", {
      ...req("gated_timeout", "timeout"),
      parameters: { timeout: { int64_param: "100000" } },
    });
    const pending = expectGrpcError(late, status.DEADLINE_EXCEEDED);
    await new Promise((r) => setTimeout(r, 300));
    gates.timeout.release();
    await pending;
    await first;
    expect(gates.timeout.started).not.toContain("timeout");
  });
});

describe("gRPC limits and lifecycle", () => {
  it("rejects a message above a configured limit with RESOURCE_EXHAUSTED", async () => {
    const small = await startServer(identityModels().slice(0, 12), {
      grpc: 0,
      http: false,
      grpcMaxReceiveBytes: 64 * 1024,
    });
    const c = inferenceClient(small.urls.grpc!);
    try {
      const bytes = new Uint8Array(128 * 1024);
      const req = rawRequest("identity_fp32", [
        { name: "INPUT0", datatype: "FP32", shape: [1, bytes.length / 4], bytes },
      ]);
      await expectGrpcError(c.call("ModelInfer", req), status.RESOURCE_EXHAUSTED);
      // The connection stays usable for requests within the limit.
      expect(await c.call("ServerLive", {})).toEqual({ live: true });
    } finally {
      c.close();
      await small.close();
    }
  });

  it("reports a gRPC port in use clearly", async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    const port = (blocker.address() as { port: number }).port;
    try {
      await expect(startServer([], { grpc: port, http: false })).rejects.toThrow(
        /gRPC port \d+ on 127.0.0.1 is already in use/,
      );
    } finally {
      blocker.close();
    }
  });

  it("reports host:port in urls.grpc and ends open streams on close()", async () => {
    const s = await startServer(identityModels().slice(0, 12), {
      grpc: 0,
      http: false,
      logger: silentLogger,
    });
    expect(s.urls.grpc).toMatch(/^127\.0\.0\.1:\d+$/);
    const c = inferenceClient(s.urls.grpc!);
    const call = (c.raw.ModelStreamInfer as () => ClientDuplexStream<unknown, unknown>).call(c.raw);
    let answered = 0;
    // The stream ends cleanly (status OK), not with an error, after the in-flight request's answer.
    const ended = new Promise<string>((resolve) => {
      call.on("status", (st: { code: number }) => resolve(`status ${st.code}`));
      call.on("error", (e: { code?: number }) => resolve(`error ${e.code}`));
      call.on("data", () => answered++);
    });
    call.write(
      rawRequest("identity_int32", [
        { name: "INPUT0", datatype: "INT32", shape: [1, 3], bytes: sampleBytes("INT32") },
      ]),
    );
    await new Promise((r) => setTimeout(r, 50));
    await s.close();
    expect(await ended).toBe(`status ${status.OK}`);
    expect(answered).toBe(1);
    c.close();
  });
});
