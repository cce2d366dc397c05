import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATATYPE_NAMES, DATATYPES, type Datatype } from "../../src/core/datatypes.js";
import { Tensor } from "../../src/core/tensor.js";
import { tensor } from "../../src/core/tensor-factory.js";
import type { BindOptions } from "../../src/model/model.js";
import { getJson, jsonOf } from "../helpers/json.js";
import { binaryBody, inferJson, parseBinaryResponse, startServer } from "../helpers/server.js";

const identity = (dt: Datatype): BindOptions => ({
  name: `identity_${dt.toLowerCase()}`,
  maxBatchSize: 8,
  inputs: { INPUT0: tensor(dt, [-1]) },
  outputs: { OUTPUT0: tensor(dt, [-1]) },
  fn: ({ INPUT0 }) => ({ OUTPUT0: INPUT0! }),
});

const models: BindOptions[] = [
  {
    name: "simple",
    maxBatchSize: 8,
    inputs: { INPUT0: tensor("INT32", [16]), INPUT1: tensor("INT32", [16]) },
    outputs: { OUTPUT0: tensor("INT32", [16]), OUTPUT1: tensor("INT32", [16]) },
    fn: ({ INPUT0, INPUT1 }) => {
      const a = INPUT0!.data as Int32Array;
      const b = INPUT1!.data as Int32Array;
      return { OUTPUT0: a.map((x, i) => x + b[i]!), OUTPUT1: a.map((x, i) => x - b[i]!) };
    },
  },
  {
    name: "nobatch",
    inputs: { X: tensor("FP32", [2, 2]), MASK: tensor("BOOL", [2], { optional: true }) },
    outputs: { Y: tensor("FP32", [2, 2]) },
    fn: async ({ X, MASK }, ctx) => ({
      Y: {
        shape: [2, 2],
        data: (X!.data as Float32Array).map((v) => v * (MASK ? 0 : 2) + Number(ctx.parameters.offset ?? 0)),
      },
    }),
  },
  {
    name: "versioned",
    version: 1,
    inputs: { X: tensor("INT32", [1]) },
    outputs: { Y: tensor("INT32", [1]) },
    fn: () => ({ Y: new Int32Array([1]) }),
  },
  {
    name: "versioned",
    version: 3,
    inputs: { X: tensor("INT32", [1]) },
    outputs: { Y: tensor("INT32", [1]) },
    fn: () => ({ Y: new Int32Array([3]) }),
  },
  {
    name: "throws",
    inputs: { X: tensor("INT32", [1]) },
    outputs: { Y: tensor("INT32", [1]) },
    fn: () => {
      throw new RangeError("the model broke");
    },
  },
  {
    name: "wrong_output",
    inputs: { X: tensor("INT32", [1]) },
    outputs: { Y: tensor("INT32", [1]) },
    fn: () => ({ Y: Tensor.fromArray("FP32", [1], [1]) }),
  },
  ...DATATYPE_NAMES.map(identity),
];

let base: string;
let close: () => Promise<void>;

beforeAll(async () => {
  const server = await startServer(models);
  base = server.urls.http!;
  close = () => server.close();
});
afterAll(() => close());

const seq = (n: number) => Array.from({ length: n }, (_, i) => i);

describe("health and metadata", () => {
  it("answers live and ready with JSON bodies", async () => {
    for (const [path, key] of [
      ["live", "live"],
      ["ready", "ready"],
    ] as const) {
      const res = await fetch(`${base}/v2/health/${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("application/json");
      expect(await jsonOf(res)).toEqual({ [key]: true });
    }
  });

  it("reports server metadata with only working extensions", async () => {
    const body = await getJson(`${base}/v2`);
    expect(body.name).toBe("tensorbind");
    expect(typeof body.version).toBe("string");
    expect(body.extensions).toEqual(
      expect.arrayContaining(["binary_tensor_data", "statistics", "model_configuration"]),
    );
    expect(body.extensions).not.toContain("model_repository");
  });

  it("reports model metadata with a leading -1 for batching models", async () => {
    const body = await getJson(`${base}/v2/models/simple`);
    expect(body).toMatchObject({ name: "simple", versions: ["1"], platform: "tensorbind_js" });
    expect(body.inputs[0]).toEqual({ name: "INPUT0", datatype: "INT32", shape: [-1, 16] });
    const nb = await getJson(`${base}/v2/models/nobatch`);
    expect(nb.inputs[0].shape).toEqual([2, 2]);
  });

  it("lists every version and serves each by number", async () => {
    expect((await getJson(`${base}/v2/models/versioned`)).versions).toEqual(["1", "3"]);
    expect((await getJson(`${base}/v2/models/versioned/versions/1`)).versions).toEqual(["1"]);
    const latest = await inferJson(base, "versioned", {
      inputs: [{ name: "X", shape: [1], datatype: "INT32", data: [0] }],
    });
    expect(latest.body.outputs[0].data).toEqual([3]);
    expect(latest.body.model_version).toBe("3");
    const v1 = await inferJson(base, "versioned/versions/1", {
      inputs: [{ name: "X", shape: [1], datatype: "INT32", data: [0] }],
    });
    expect(v1.body.outputs[0].data).toEqual([1]);
  });

  it("answers model ready 200, and 400 (not ready) with Triton's wording for unknown models", async () => {
    expect((await fetch(`${base}/v2/models/simple/ready`)).status).toBe(200);
    const res = await fetch(`${base}/v2/models/nope/ready`);
    expect(res.status).toBe(400);
    expect(await jsonOf(res)).toEqual({ error: "Request for unknown model: 'nope' is not found" });
    expect((await fetch(`${base}/v2/models/versioned/versions/2/ready`)).status).toBe(400);
    const meta = await fetch(`${base}/v2/models/nope`);
    expect(meta.status).toBe(404);
    expect(await jsonOf(meta)).toEqual({ error: "Request for unknown model: 'nope' is not found" });
  });

  it("renders the Triton model config", async () => {
    const c = await getJson(`${base}/v2/models/simple/config`);
    expect(c).toMatchObject({ name: "simple", max_batch_size: 8, backend: "tensorbind_js" });
    expect(c.input[0]).toEqual({ name: "INPUT0", data_type: "TYPE_INT32", dims: [16] });
    expect(c.instance_group[0]).toMatchObject({ kind: "KIND_CPU", count: 1 });
    const nb = await getJson(`${base}/v2/models/nobatch/config`);
    expect(nb.input[1]).toMatchObject({ name: "MASK", data_type: "TYPE_BOOL", optional: true });
    const bytes = await getJson(`${base}/v2/models/identity_bytes/config`);
    expect(bytes.input[0].data_type).toBe("TYPE_STRING");
  });

  it("ignores query strings", async () => {
    expect((await fetch(`${base}/v2/health/ready?x=1&y`)).status).toBe(200);
  });
});

describe("infer with JSON", () => {
  it("adds and subtracts, echoing the request id", async () => {
    const { status, body } = await inferJson(base, "simple", {
      id: "req-7",
      inputs: [
        { name: "INPUT0", shape: [1, 16], datatype: "INT32", data: seq(16) },
        { name: "INPUT1", shape: [1, 16], datatype: "INT32", data: seq(16).map(() => 1) },
      ],
    });
    expect(status).toBe(200);
    expect(body.id).toBe("req-7");
    expect(body.model_name).toBe("simple");
    expect(body.model_version).toBe("1");
    expect(body.outputs[0]).toEqual({
      name: "OUTPUT0",
      datatype: "INT32",
      shape: [1, 16],
      data: seq(16).map((x) => x + 1),
    });
    expect(body.outputs[1].data).toEqual(seq(16).map((x) => x - 1));
    expect(body.outputs[0].parameters).toBeUndefined();
  });

  it("accepts nested row-major data", async () => {
    const { body } = await inferJson(base, "nobatch", {
      inputs: [
        {
          name: "X",
          shape: [2, 2],
          datatype: "FP32",
          data: [
            [1, 2],
            [3, 4],
          ],
        },
      ],
    });
    expect(body.outputs[0].data).toEqual([2, 4, 6, 8]);
  });

  it("returns only the requested outputs", async () => {
    const { body } = await inferJson(base, "simple", {
      inputs: [
        { name: "INPUT0", shape: [1, 16], datatype: "INT32", data: seq(16) },
        { name: "INPUT1", shape: [1, 16], datatype: "INT32", data: seq(16) },
      ],
      outputs: [{ name: "OUTPUT1" }],
    });
    expect(body.outputs.map((o: { name: string }) => o.name)).toEqual(["OUTPUT1"]);
  });

  it("passes request parameters to the function and accepts optional inputs", async () => {
    const { body } = await inferJson(base, "nobatch", {
      parameters: { offset: 10 },
      inputs: [
        { name: "X", shape: [2, 2], datatype: "FP32", data: [1, 2, 3, 4] },
        { name: "MASK", shape: [2], datatype: "BOOL", data: [true, false] },
      ],
    });
    expect(body.outputs[0].data).toEqual([10, 10, 10, 10]);
  });

  const jsonValues: Partial<Record<Datatype, unknown[]>> = {
    BOOL: [true, false, true],
    UINT8: [0, 1, 255],
    UINT16: [0, 1, 65535],
    UINT32: [0, 1, 4294967295],
    UINT64: [0, 1, 9007199254740991],
    INT8: [-128, 0, 127],
    INT16: [-32768, 0, 32767],
    INT32: [-2147483648, 0, 2147483647],
    INT64: [-9007199254740991, 0, 9007199254740991],
    FP32: [1.5, -2.25, 0],
    FP64: [1e-300, -2.5, 1e300],
    BYTES: ["hello", "", "ünïcødé"],
  };
  for (const [dt, values] of Object.entries(jsonValues)) {
    it(`round-trips ${dt} through JSON`, async () => {
      const { status, body } = await inferJson(base, `identity_${dt.toLowerCase()}`, {
        inputs: [{ name: "INPUT0", shape: [1, 3], datatype: dt, data: values }],
      });
      expect(status).toBe(200);
      expect(body.outputs[0]).toEqual({ name: "OUTPUT0", datatype: dt, shape: [1, 3], data: values });
    });
  }

  it("keeps 64-bit integers exact in JSON", async () => {
    const text = `{"inputs":[{"name":"INPUT0","shape":[1,2],"datatype":"INT64","data":[-9223372036854775808,9223372036854775807]}]}`;
    const res = await fetch(`${base}/v2/models/identity_int64/infer`, { method: "POST", body: text });
    const raw = await res.text();
    expect(raw).toContain("[-9223372036854775808,9223372036854775807]");
    const u = `{"inputs":[{"name":"INPUT0","shape":[1,1],"datatype":"UINT64","data":[18446744073709551615]}]}`;
    expect(
      await (await fetch(`${base}/v2/models/identity_uint64/infer`, { method: "POST", body: u })).text(),
    ).toContain("[18446744073709551615]");
  });
});

describe("infer with the binary tensor extension", () => {
  const sample = (dt: Datatype): Tensor => {
    if (dt === "BYTES") return Tensor.fromStrings([1, 3], ["a", "", "ßç"]);
    if (dt === "BOOL") return Tensor.fromArray("BOOL", [1, 3], [true, false, true]);
    const big = DATATYPES[dt].bigint;
    return Tensor.fromArray(dt, [1, 3], big ? [1n, 2n, 3n] : [1, 2, 3]);
  };

  for (const dt of DATATYPE_NAMES) {
    it(`round-trips ${dt} in binary both ways`, async () => {
      const t = sample(dt);
      const { body, headerLength } = binaryBody(
        {
          inputs: [
            { name: "INPUT0", shape: t.shape, datatype: dt, parameters: { binary_data_size: t.byteLength } },
          ],
          outputs: [{ name: "OUTPUT0", parameters: { binary_data: true } }],
        },
        [t.bytes],
      );
      const res = await fetch(`${base}/v2/models/identity_${dt.toLowerCase()}/infer`, {
        method: "POST",
        headers: {
          "Inference-Header-Content-Length": String(headerLength),
          "Content-Type": "application/octet-stream",
        },
        body,
      });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("application/octet-stream");
      const buf = Buffer.from(await res.arrayBuffer());
      const parsed = parseBinaryResponse(buf, Number(res.headers.get("inference-header-content-length")));
      expect(parsed.header.outputs[0]).toEqual({
        name: "OUTPUT0",
        datatype: dt,
        shape: [1, 3],
        parameters: { binary_data_size: t.byteLength },
      });
      expect(Buffer.compare(parsed.outputs.OUTPUT0!, Buffer.from(t.bytes))).toBe(0);
    });
  }

  it("returns all outputs in binary with binary_data_output", async () => {
    const a = Tensor.fromArray("INT32", [1, 16], seq(16));
    const { body, headerLength } = binaryBody(
      {
        parameters: { binary_data_output: true },
        inputs: [
          { name: "INPUT0", shape: [1, 16], datatype: "INT32", parameters: { binary_data_size: 64 } },
          { name: "INPUT1", shape: [1, 16], datatype: "INT32", data: seq(16) },
        ],
      },
      [a.bytes],
    );
    const res = await fetch(`${base}/v2/models/simple/infer`, {
      method: "POST",
      headers: { "Inference-Header-Content-Length": String(headerLength) },
      body,
    });
    const parsed = parseBinaryResponse(
      Buffer.from(await res.arrayBuffer()),
      Number(res.headers.get("inference-header-content-length")),
    );
    const out0 = new Int32Array(new Uint8Array(parsed.outputs.OUTPUT0!).buffer);
    expect([...out0]).toEqual(seq(16).map((x) => 2 * x));
    expect(parsed.outputs.OUTPUT1!.length).toBe(64);
  });

  it("mixes binary and JSON outputs as requested", async () => {
    const { body } = await inferJson(base, "simple", {
      inputs: [
        { name: "INPUT0", shape: [1, 16], datatype: "INT32", data: seq(16) },
        { name: "INPUT1", shape: [1, 16], datatype: "INT32", data: seq(16) },
      ],
      outputs: [{ name: "OUTPUT0", parameters: { binary_data: false } }],
    });
    expect(body.outputs[0].data).toHaveLength(16);
  });

  it("takes a raw body when Inference-Header-Content-Length is 0", async () => {
    const t = Tensor.fromArray("FP32", [4], [1, 2, 3, 4]);
    const res = await fetch(`${base}/v2/models/identity_fp32/infer`, {
      method: "POST",
      headers: { "Inference-Header-Content-Length": "0" },
      body: Buffer.from(t.bytes),
    });
    expect(res.status).toBe(200);
    const parsed = parseBinaryResponse(
      Buffer.from(await res.arrayBuffer()),
      Number(res.headers.get("inference-header-content-length")),
    );
    expect(parsed.header.outputs[0].shape).toEqual([1, 4]);
    expect(Buffer.compare(parsed.outputs.OUTPUT0!, Buffer.from(t.bytes))).toBe(0);
  });

  it("accepts gzip and deflate request bodies", async () => {
    const json = JSON.stringify({
      inputs: [{ name: "INPUT0", shape: [1, 2], datatype: "INT32", data: [5, 6] }],
    });
    const res = await fetch(`${base}/v2/models/identity_int32/infer`, {
      method: "POST",
      headers: { "Content-Encoding": "gzip" },
      body: gzipSync(json),
    });
    expect(res.status).toBe(200);
    expect((await jsonOf(res)).outputs[0].data).toEqual([5, 6]);
  });
});

describe("errors and statistics", () => {
  it("turns a throwing function into a 500 with its type and message, and keeps serving", async () => {
    const { status, body } = await inferJson(base, "throws", {
      inputs: [{ name: "X", shape: [1], datatype: "INT32", data: [1] }],
    });
    expect(status).toBe(500);
    expect(body.error).toBe("RangeError: the model broke");
    expect((await fetch(`${base}/v2/health/ready`)).status).toBe(200);
  });

  it("reports a wrongly typed output in strict mode as 500", async () => {
    const { status, body } = await inferJson(base, "wrong_output", {
      inputs: [{ name: "X", shape: [1], datatype: "INT32", data: [1] }],
    });
    expect(status).toBe(500);
    expect(body.error).toMatch(/returned output 'Y' as FP32/);
  });

  it("answers 405 for a wrong method and 404 for an unknown route", async () => {
    const r = await fetch(`${base}/v2/models/simple/infer`);
    expect(r.status).toBe(405);
    expect(r.headers.get("allow")).toBe("POST");
    expect((await fetch(`${base}/v3/nothing`)).status).toBe(404);
  });

  it("counts successes, failures, queue and compute times in the statistics", async () => {
    const before = (await getJson(`${base}/v2/models/simple/stats`)).model_stats[0];
    await inferJson(base, "simple", {
      inputs: [
        { name: "INPUT0", shape: [2, 16], datatype: "INT32", data: seq(32) },
        { name: "INPUT1", shape: [2, 16], datatype: "INT32", data: seq(32) },
      ],
    });
    const after = (await getJson(`${base}/v2/models/simple/stats`)).model_stats[0];
    expect(after.name).toBe("simple");
    expect(after.version).toBe("1");
    // A request of batch size 2 counts as two inferences in one execution, as in Triton.
    expect(after.inference_count).toBe(before.inference_count + 2);
    expect(after.execution_count).toBe(before.execution_count + 1);
    expect(after.inference_stats.success.count).toBe(before.inference_stats.success.count + 1);
    expect(after.inference_stats.queue.count).toBe(before.inference_stats.queue.count + 1);
    for (const k of [
      "success",
      "fail",
      "queue",
      "compute_input",
      "compute_infer",
      "compute_output",
      "cache_hit",
      "cache_miss",
    ]) {
      expect(after.inference_stats[k]).toEqual({ count: expect.any(Number), ns: expect.any(Number) });
    }
    expect(after.batch_stats).toContainEqual(
      expect.objectContaining({ batch_size: 2, compute_infer: { count: 1, ns: expect.any(Number) } }),
    );
    expect(after.last_inference).toBeGreaterThan(0);
    const all = (await getJson(`${base}/v2/models/stats`)).model_stats;
    expect(all.length).toBe(models.length);
    const failed = (await getJson(`${base}/v2/models/throws/stats`)).model_stats[0];
    expect(failed.inference_stats.fail.count).toBeGreaterThan(0);
  });

  it("lists models in the repository index", async () => {
    const res = await fetch(`${base}/v2/repository/index`, { method: "POST", body: "{}" });
    const index = await jsonOf(res);
    expect(index).toContainEqual({ name: "simple", version: "1", state: "READY", reason: "" });
  });
});
