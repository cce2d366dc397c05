import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { native } from "../../src/backends/native/index.js";
import type { Backend, ExecutionRequest, ExecutionResult } from "../../src/core/backend.js";
import { isTensorbindError } from "../../src/core/errors.js";
import { silentLogger } from "../../src/core/logger.js";
import { Tensor } from "../../src/core/tensor.js";
import { tensor } from "../../src/core/tensor-factory.js";
import { Registry } from "../../src/model/registry.js";
import { serve } from "../../src/server.js";
import { getJson } from "../helpers/json.js";
import { ALL_DATATYPES, SAMPLES } from "../helpers/models.js";
import { inferJson, startServer, waitExecuting } from "../helpers/server.js";

// Built by `npm run build:native-models` (.ci/run does it).
const FIXTURES = "test/fixtures/native/build/Release/fixtures.node";
const FIXTURES_V999 = "test/fixtures/native/build/Release/fixtures_v999.node";
const VECTOR_OPS = "examples/native-cpu/build/Release/vector_ops.node";
const SHM_ADDON = "native/shm/build/Release/tensorbind_shm.node";

const runtimeDir = mkdtempSync(join(tmpdir(), "tb-native-"));
const started: Backend[] = [];

beforeAll(() => {
  for (const f of [FIXTURES, FIXTURES_V999, VECTOR_OPS]) {
    if (!existsSync(f)) throw new Error(`${f} is missing: run \`npm run build:native-models\``);
  }
});

afterAll(async () => {
  await Promise.all(started.map((b) => b.stop()));
  rmSync(runtimeDir, { recursive: true, force: true });
});

async function start(fn: string, options: Parameters<typeof native>[2] = {}, addon = FIXTURES) {
  const backend = native(addon, fn, options).create();
  started.push(backend);
  const declaration = await backend.start({ model: fn, version: "1", log: silentLogger, runtimeDir });
  return { backend, declaration };
}

function request(inputs: Tensor[], requestedOutputs: string[]): ExecutionRequest {
  return {
    id: undefined,
    inputs: Object.fromEntries(inputs.map((t) => [t.name, t])),
    parameters: {},
    requestedOutputs,
    signal: undefined,
  };
}

function ok(result: ExecutionResult | Error | undefined): ExecutionResult {
  if (result === undefined || result instanceof Error) throw result ?? new Error("no result");
  return result;
}

/** Threads of this process (Linux): each native instance adds one while it runs. */
function threadCount(): number {
  return readdirSync("/proc/self/task").length;
}

const fp32 = (name: string, values: number[]) => Tensor.fromArray("FP32", [values.length], values, name);

describe("native backend: the addon contract", () => {
  it("returns the addon's declaration from start()", async () => {
    const { declaration } = await start("select_above", {}, VECTOR_OPS);
    expect(declaration?.inputs?.X).toMatchObject({ datatype: "FP32", shape: [-1] });
    expect(declaration?.inputs?.THRESHOLD).toMatchObject({ datatype: "FP32", shape: [1] });
    expect(Object.keys(declaration?.outputs ?? {})).toEqual(["INDICES", "VALUES"]);
    expect(declaration?.maxBatchSize).toBeUndefined();
    const row = await start("row_sum");
    expect(row.declaration?.maxBatchSize).toBe(8);
  });

  it("writes an output straight into the client's shared-memory region when it fits", async () => {
    const { backend } = await start("vector_add", {}, VECTOR_OPS);
    const region = new Uint8Array(new ArrayBuffer(64), 16, 32); // the client's span (views of a mapping in a server)
    const placement = { kind: "system", key: "/x", offset: 16, byteSize: 32 } as const;
    const req = {
      ...request([fp32("A", [1, 2, 3]), fp32("B", [10, 20, 30])], ["SUM"]),
      sharedOutputs: { SUM: { bytes: region, placement } },
    };
    const sum = ok((await backend.execute([req], 0))[0]).SUM!;
    expect(sum.bytes.buffer).toBe(region.buffer); // a view of the region: nothing to copy afterwards
    expect(sum.bytes.byteOffset).toBe(16);
    expect([...new Float32Array(region.buffer, 16, 3)]).toEqual([11, 22, 33]);
    // A region too small for the output: the model writes its own memory (the engine then refuses it).
    const small = { ...req, sharedOutputs: { SUM: { bytes: region.subarray(0, 8), placement } } };
    const other = ok((await backend.execute([small], 0))[0]).SUM!;
    expect(other.bytes.buffer).not.toBe(region.buffer);
  });

  it("sizes outputs after the computation (select_above)", async () => {
    const { backend } = await start("select_above", {}, VECTOR_OPS);
    const x = fp32("X", [0.5, 3, -1, 7, 2]);
    const [r] = await backend.execute([request([x, fp32("THRESHOLD", [1])], ["INDICES", "VALUES"])], 0);
    const out = ok(r);
    expect(out.INDICES?.shape).toEqual([3]);
    expect(Array.from(out.INDICES!.typed() as BigInt64Array)).toEqual([1n, 3n, 4n]);
    expect(Array.from(out.VALUES!.typed() as Float32Array)).toEqual([3, 7, 2]);
    const [none] = await backend.execute([request([x, fp32("THRESHOLD", [100])], ["INDICES"])], 0);
    expect(ok(none).INDICES?.shape).toEqual([0]);
    expect(ok(none).VALUES).toBeUndefined(); // not requested, so not computed
  });

  it("forwards an input as an output without copying it", async () => {
    const { backend } = await start("forward");
    const x = fp32("X", [1, 2, 3]);
    const [r] = await backend.execute([request([x], ["Y"])], 0);
    expect(ok(r).Y?.bytes).toBe(x.bytes);
  });

  it("round-trips every datatype, also from misaligned request bytes", async () => {
    const { backend } = await start("copy_all");
    const inputs = ALL_DATATYPES.map((d) => {
      const t = Tensor.fromArray(d, [1, 3], SAMPLES[d], `in_${d}`);
      // Place the bytes at an odd offset, as in a binary request body.
      const buf = new Uint8Array(t.byteLength + 1);
      buf.set(t.bytes, 1);
      return new Tensor(t.name, d, t.shape, buf.subarray(1));
    });
    const [r] = await backend.execute(
      [
        request(
          inputs,
          inputs.map((t) => `OUT_${t.name}`),
        ),
      ],
      0,
    );
    const out = ok(r);
    for (const t of inputs) {
      const o = out[`OUT_${t.name}`];
      expect(o?.datatype, t.datatype).toBe(t.datatype);
      expect(o?.shape).toEqual([1, 3]);
      expect(o?.toArray(), t.datatype).toEqual(t.toArray());
    }
  });

  it("hands BOOL inputs to C++ as 0/1 whatever non-zero bytes arrived", async () => {
    const { backend } = await start("copy_all");
    const raw = new Tensor("B", "BOOL", [4], new Uint8Array([0, 2, 255, 1]));
    const [r] = await backend.execute([request([raw], ["OUT_B"])], 0);
    expect(Array.from(ok(r).OUT_B!.bytes)).toEqual([0, 1, 1, 1]);
    expect(Array.from(raw.bytes)).toEqual([0, 2, 255, 1]); // the request's bytes are not touched
  });

  it("keeps a call's input buffers alive while it runs, whatever JavaScript drops", async () => {
    // A child with --expose-gc drops its only reference to X, collects garbage and churns memory
    // while the call sleeps; the copy made afterwards must still read X's bytes.
    const script = `
      const m = { exports: {} };
      process.dlopen(m, ${JSON.stringify(join(process.cwd(), FIXTURES))});
      const api = m.exports.tensorbind;
      const inst = new api.Instance("slow_copy", 0, -1);
      await inst.start();
      const n = 1 << 20;
      const call = (() => {
        const x = new Float32Array(n).map((_, i) => i);
        const ms = new Int32Array([300]);
        return inst.run(["MS", "X"], [8, 12], [[1], [n]],
          [new Uint8Array(ms.buffer), new Uint8Array(x.buffer)], ["Y"]);
      })();
      for (let i = 0; i < 20; i++) { globalThis.gc(); new Float32Array(n).fill(-1); await new Promise((r) => setTimeout(r, 10)); }
      const [[, , , y]] = await call;
      const v = new Float32Array(y);
      let bad = 0;
      for (let i = 0; i < n; i++) if (v[i] !== i) bad++;
      await inst.stop();
      console.log(JSON.stringify({ bad }));`;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--expose-gc", "--input-type=module", "-e", script],
      { timeout: 30_000 },
    );
    expect(JSON.parse(stdout)).toEqual({ bad: 0 });
  });

  it("keeps per-instance state in one object per instance", async () => {
    const { backend } = await start("counter", { instances: 2 });
    const x = fp32("X", [1]);
    const state = async (instance: number) =>
      Array.from(
        ok((await backend.execute([request([x], ["STATE"])], instance))[0]).STATE!.typed() as BigInt64Array,
      );
    expect(await state(0)).toEqual([0n, 1n, 2n]);
    expect(await state(0)).toEqual([0n, 2n, 2n]);
    expect(await state(1)).toEqual([1n, 1n, 2n]);
  });

  it("runs the calls of different instances at the same time", async () => {
    const { backend } = await start("slow", { instances: 2 });
    const ms = Tensor.fromArray("INT32", [1], [500], "MS");
    const t0 = performance.now();
    const [a, b] = await Promise.all([
      backend.execute([request([ms], ["DONE"])], 0),
      backend.execute([request([ms], ["DONE"])], 1),
    ]);
    const elapsed = performance.now() - t0;
    expect(Array.from(ok(a[0]).DONE!.typed() as Int32Array)).toEqual([500, 0]);
    expect(Array.from(ok(b[0]).DONE!.typed() as Int32Array)).toEqual([500, 1]);
    expect(elapsed).toBeLessThan(950); // two 500 ms sleeps in parallel, not in series
  });

  it("stops every instance thread on stop(), and stop() is idempotent", async () => {
    const before = threadCount();
    const backend = native(FIXTURES, "counter", { instances: 3 }).create();
    await backend.start({ model: "counter", version: "1", log: silentLogger, runtimeDir });
    expect(threadCount()).toBe(before + 3);
    await backend.stop();
    await backend.stop();
    expect(threadCount()).toBe(before);
  });
});

describe("instances given to bind()", () => {
  it("run that many native instances, shown in the model config", async () => {
    const server = await startServer([{ name: "counter", instances: 3, fn: native(FIXTURES, "counter") }]);
    try {
      const config = (await getJson(`${server.urls.http}/v2/models/counter/config`)) as {
        instance_group: { kind: string; count: number }[];
      };
      expect(config.instance_group).toEqual([expect.objectContaining({ kind: "KIND_CPU", count: 3 })]);
    } finally {
      await server.close();
    }
  });

  it("are refused when native() says otherwise", async () => {
    const registry = new Registry();
    expect(() =>
      registry.bind({ name: "twice", instances: 2, fn: native(FIXTURES, "counter", { instances: 3 }) }),
    ).toThrow(/both bind\(\) and native\(\)/);
  });
});

describe("native backend: start-up errors", () => {
  const load = async (fn: () => ReturnType<typeof native>) => {
    try {
      const backend = fn().create();
      started.push(backend);
      await backend.start({ model: "m", version: "1", log: silentLogger, runtimeDir });
    } catch (err) {
      expect(isTensorbindError(err) && err.code).toBe("TB_ERR_CONFIG");
      return (err as Error).message;
    }
    throw new Error("expected a ConfigError");
  };

  it("names a missing addon file", async () => {
    expect(await load(() => native("no/such/addon.node", "f"))).toMatch(
      /no\/such\/addon.node does not exist/,
    );
  });

  it("refuses a Node addon that is not a tensorbind addon", async () => {
    expect(await load(() => native(SHM_ADDON, "f"))).toMatch(
      /is not a tensorbind addon.*TENSORBIND_ADDON\(\)/,
    );
  });

  it("refuses a file that is not a shared library", async () => {
    expect(await load(() => native("package.json", "f"))).toMatch(
      /cannot load package.json: .*invalid ELF header/,
    );
  });

  it("lists the declared functions when the name is wrong", async () => {
    expect(await load(() => native(VECTOR_OPS, "vector_sub"))).toMatch(
      /has no model function 'vector_sub'; it declares: vector_add, select_above/,
    );
  });

  it("refuses an addon built against another API version", async () => {
    expect(await load(() => native(FIXTURES_V999, "noop"))).toMatch(
      /built against tensorbind native API version 999, but this tensorbind speaks version 1: rebuild/,
    );
  });

  it("reports an exception from a model object's constructor", async () => {
    expect(await load(() => native(FIXTURES, "bad_constructor", { instances: 2 }))).toMatch(
      /instance 0 failed to start: std::runtime_error: cannot open geometry file/,
    );
  });

  it("refuses GPU instances when the addon was built without CUDA", async () => {
    expect(await load(() => native(VECTOR_OPS, "vector_add", { instances: [{ gpu: 0 }] }))).toMatch(
      /instance 0 \(GPU 0\) failed to start: .*built without CUDA/,
    );
  });

  it("checks the options", () => {
    expect(() => native(VECTOR_OPS, "vector_add", { instances: 0 })).toThrow(/positive integer/);
    expect(() => native(VECTOR_OPS, "vector_add", { instances: [] })).toThrow(/non-empty array/);
    expect(() => native(VECTOR_OPS, "vector_add", { instances: [{ gpu: -1 }] })).toThrow(
      /instances\[0\].gpu/,
    );
    expect(() => native(VECTOR_OPS, "vector_add", { instances: [{}], gpu: 0 })).toThrow(/not both/);
  });
});

describe("native models in a server", () => {
  it("serves the addon's declared specs when bind() gives none", async () => {
    const server = await startServer([{ name: "vector_add", fn: native(VECTOR_OPS, "vector_add") }]);
    try {
      const base = server.urls.http!;
      const meta = await getJson(`${base}/v2/models/vector_add`);
      expect(meta.platform).toBe("tensorbind_native");
      expect(meta.inputs).toEqual([
        { name: "A", datatype: "FP32", shape: [-1] },
        { name: "B", datatype: "FP32", shape: [-1] },
      ]);
      const r = await inferJson(base, "vector_add", {
        inputs: [
          { name: "A", datatype: "FP32", shape: [3], data: [1, 2, 3] },
          { name: "B", datatype: "FP32", shape: [3], data: [10, 20, 30] },
        ],
      });
      expect(r.status).toBe(200);
      expect(r.body.outputs[0]).toMatchObject({ name: "SUM", shape: [3], data: [11, 22, 33] });
    } finally {
      await server.close();
    }
  });

  it("accepts bind() specs that agree with the addon, fixing a dimension it leaves open", async () => {
    const server = await startServer([
      {
        name: "vector_add",
        fn: native(VECTOR_OPS, "vector_add"),
        inputs: { A: tensor("FP32", [4]), B: tensor("FP32", [4]) },
        outputs: { SUM: tensor("FP32", [4]) },
      },
    ]);
    try {
      const base = server.urls.http!;
      const meta = await getJson(`${base}/v2/models/vector_add`);
      expect(meta.inputs).toEqual([
        { name: "A", datatype: "FP32", shape: [4] },
        { name: "B", datatype: "FP32", shape: [4] },
      ]);
      expect(meta.outputs).toEqual([{ name: "SUM", datatype: "FP32", shape: [4] }]);
      // The fixed dimension is enforced: 3 elements where bind() says 4 are refused.
      const bad = await inferJson(base, "vector_add", {
        inputs: [
          { name: "A", datatype: "FP32", shape: [3], data: [1, 2, 3] },
          { name: "B", datatype: "FP32", shape: [3], data: [10, 20, 30] },
        ],
      });
      expect(bad.status).toBe(400);
      expect(bad.body.error).toMatch(/shape/);
      const ok = await inferJson(base, "vector_add", {
        inputs: [
          { name: "A", datatype: "FP32", shape: [4], data: [1, 2, 3, 4] },
          { name: "B", datatype: "FP32", shape: [4], data: [10, 20, 30, 40] },
        ],
      });
      expect(ok.status).toBe(200);
      expect(ok.body.outputs[0]).toMatchObject({ name: "SUM", shape: [4], data: [11, 22, 33, 44] });
    } finally {
      await server.close();
    }
  });

  it("fails to load, naming each disagreement, when bind() contradicts the addon", async () => {
    const registry = new Registry();
    registry.bind({
      name: "vector_add",
      fn: native(VECTOR_OPS, "vector_add"),
      inputs: { A: tensor("FP64", [-1]), C: tensor("FP32", [-1]) },
      outputs: { SUM: tensor("FP32", [-1, 2]) },
    });
    const err = await serve({ http: 0, grpc: false, metrics: false, logger: silentLogger, registry }).then(
      async (s) => {
        await s.close();
        return undefined;
      },
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(/input 'A' is FP64 in bind\(\) but FP32 in the addon/);
    expect(err?.message).toMatch(/bind\(\) lacks input 'B'/);
    expect(err?.message).toMatch(/bind\(\) has input 'C', which the addon does not declare/);
    expect(err?.message).toMatch(/output 'SUM' has shape \[-1,2\] in bind\(\) but \[-1\] in the addon/);
  });

  it("fails to load when bind()'s maxBatchSize contradicts the addon's", async () => {
    const registry = new Registry();
    registry.bind({ name: "row_sum", fn: native(FIXTURES, "row_sum"), maxBatchSize: 4 });
    await expect(
      serve({ http: 0, grpc: false, metrics: false, logger: silentLogger, registry }),
    ).rejects.toThrow(/bind\(\) says maxBatchSize 4 but the backend declares 8/);
  });

  it("turns C++ exceptions into request errors and keeps serving", async () => {
    const x = { inputs: [{ name: "X", datatype: "FP32", shape: [2], data: [1, 2] }] };
    const server = await startServer(
      ["fail", "fail_invalid", "fail_unavailable", "fail_other", "wrong_dtype", "undeclared_output"].map(
        (name) => ({ name, fn: native(FIXTURES, name) }),
      ),
    );
    try {
      const base = server.urls.http!;
      const fail = await inferJson(base, "fail", x);
      expect(fail).toEqual({ status: 500, body: { error: "std::runtime_error: boom after 2 elements" } });
      expect(await inferJson(base, "fail_invalid", x)).toEqual({
        status: 400,
        body: { error: "X must be sorted" },
      });
      expect((await inferJson(base, "fail_unavailable", x)).status).toBe(503);
      const other = await inferJson(base, "fail_other", x);
      expect(other.status).toBe(500);
      expect(other.body.error).toMatch(/unknown exception \(int\)/);
      expect((await inferJson(base, "wrong_dtype", x)).body.error).toBe(
        "input 'X' is FP32, but the model reads it as INT32",
      );
      expect((await inferJson(base, "undeclared_output", x)).body.error).toBe(
        "output 'NOPE' is not declared by this model",
      );
      expect((await inferJson(base, "fail", x)).status).toBe(500); // the instance still runs
    } finally {
      await server.close();
    }
  });

  it("keeps answering health checks and other models while a native call runs", async () => {
    const server = await startServer(
      [
        { name: "slow", fn: native(FIXTURES, "slow") },
        { name: "vector_add", fn: native(VECTOR_OPS, "vector_add") },
      ],
      { grpc: 0 },
    );
    try {
      const base = server.urls.http!;
      const slow = inferJson(base, "slow", {
        inputs: [{ name: "MS", datatype: "INT32", shape: [1], data: [3000] }],
      });
      let settled = false;
      void slow.finally(() => {
        settled = true;
      });
      await new Promise((r) => setTimeout(r, 100)); // the call is on the instance's thread by now
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        const health = await fetch(`${base}/v2/health/ready`);
        expect(health.status).toBe(200);
        const sum = await inferJson(base, "vector_add", {
          inputs: [
            { name: "A", datatype: "FP32", shape: [1], data: [i] },
            { name: "B", datatype: "FP32", shape: [1], data: [1] },
          ],
        });
        expect(sum.body.outputs[0].data).toEqual([i + 1]);
        expect(performance.now() - t0).toBeLessThan(1000);
      }
      expect(settled).toBe(false); // all of the above happened while the slow call was running
      const r = await slow;
      expect(r.status).toBe(200);
      expect(r.body.outputs[0].data).toEqual([3000, 0]);
    } finally {
      await server.close();
    }
  });

  it("waits for a running native call on close, then leaves no thread behind", async () => {
    const before = threadCount();
    const server = await startServer([{ name: "slow", fn: native(FIXTURES, "slow", { instances: 2 }) }]);
    const base = server.urls.http!;
    const body = { inputs: [{ name: "MS", datatype: "INT32", shape: [1], data: [300] }] };
    const pending = [inferJson(base, "slow", body), inferJson(base, "slow", body)];
    await waitExecuting(server, "slow", 2);
    await server.close();
    expect((await Promise.all(pending)).map((r) => r.status)).toEqual([200, 200]);
    expect(threadCount()).toBeLessThanOrEqual(before);
  });

  it("serves BYTES and batched models", async () => {
    const server = await startServer([
      { name: "upper", fn: native(FIXTURES, "upper") },
      { name: "row_sum", fn: native(FIXTURES, "row_sum") },
    ]);
    try {
      const base = server.urls.http!;
      const up = await inferJson(base, "upper", {
        inputs: [{ name: "TEXT", datatype: "BYTES", shape: [2], data: ["abc", "héllo"] }],
      });
      expect(up.body.outputs[0]).toMatchObject({ name: "UPPER", shape: [2], data: ["ABC", "HéLLO"] });
      const config = await getJson(`${base}/v2/models/row_sum/config`);
      expect(config.max_batch_size).toBe(8);
      const rs = await inferJson(base, "row_sum", {
        inputs: [{ name: "X", datatype: "FP64", shape: [2, 3], data: [1, 2, 3, 4, 5, 6] }],
      });
      expect(rs.body.outputs[0]).toMatchObject({ name: "SUM", shape: [2, 1], data: [6, 15] });
    } finally {
      await server.close();
    }
  });
});
