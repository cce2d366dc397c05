import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LazyBackend } from "../../src/backends/lazy.js";
import { python } from "../../src/backends/python/index.js";
import type { PythonBackend } from "../../src/backends/python/python-backend.js";
import { shm } from "../../src/backends/python/shm-addon.js";
import type { Backend, ExecutionRequest, ExecutionResult } from "../../src/core/backend.js";
import { DATATYPE_NAMES, type Datatype } from "../../src/core/datatypes.js";
import { isTensorbindError } from "../../src/core/errors.js";
import { silentLogger } from "../../src/core/logger.js";
import { Tensor } from "../../src/core/tensor.js";
import { INTERPRETER } from "../helpers/cli.js";
import { running } from "../helpers/procs.js";

const FIXTURES = "python/tests/fixtures/models.py";

function request(inputs: Tensor[], requestedOutputs: string[] = []): ExecutionRequest {
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

const runtimeDir = mkdtempSync(join(tmpdir(), "tb-pytest-"));
const started: Backend[] = [];

async function start(fn: string, options: Parameters<typeof python>[2] = {}) {
  const backend = python(FIXTURES, fn, { interpreter: INTERPRETER, ...options }).create();
  started.push(backend);
  const declaration = await backend.start({ model: fn, version: "1", log: silentLogger, runtimeDir });
  return { backend, declaration };
}

afterAll(async () => {
  await Promise.all(started.map((b) => b.stop()));
  rmSync(runtimeDir, { recursive: true, force: true });
});

function sample(datatype: Datatype): Tensor {
  const values: Record<Datatype, unknown[]> = {
    BOOL: [true, false, true, true, false, true],
    UINT8: [0, 1, 2, 253, 254, 255],
    UINT16: [0, 1, 2, 65533, 65534, 65535],
    UINT32: [0, 1, 2, 4294967293, 4294967294, 4294967295],
    UINT64: [0n, 1n, 2n, 2n ** 64n - 3n, 2n ** 64n - 2n, 2n ** 64n - 1n],
    INT8: [-128, -1, 0, 1, 2, 127],
    INT16: [-32768, -1, 0, 1, 2, 32767],
    INT32: [-(2 ** 31), -1, 0, 1, 2, 2 ** 31 - 1],
    INT64: [-(2n ** 63n), -1n, 0n, 1n, 2n, 2n ** 63n - 1n],
    FP16: [-2, -0.5, 0, 0.5, 1, 65504],
    BF16: [-2, -0.5, 0, 0.5, 1, 3.140625],
    FP32: [-1.5, 0, 1.25, 3.4e38, -3.4e38, Number.MIN_VALUE],
    FP64: [-1.5, 0, 1.25, 1e308, -1e308, Number.MIN_VALUE],
    BYTES: ["", "a", "héllo", "\u0000\u0001", "x".repeat(300), "end"],
  };
  return Tensor.fromArray(datatype, [2, 3], values[datatype] as never, `in_${datatype}`);
}

describe("python backend: data plane", () => {
  let echo: Backend;
  beforeAll(async () => {
    echo = (await start("echo")).backend;
  }, 30_000);

  it("round-trips every datatype through execute()", async () => {
    const inputs = DATATYPE_NAMES.map(sample);
    const [result] = await echo.execute([request(inputs)], 0);
    const out = ok(result);
    for (const t of inputs) {
      const back = out[`OUT_${t.name}`];
      expect(back?.datatype, t.datatype).toBe(t.datatype);
      expect(back?.shape).toEqual([2, 3]);
      expect(Buffer.from(back!.bytes).equals(Buffer.from(t.bytes)), t.datatype).toBe(true);
    }
  });

  it("round-trips scalars, empty tensors and unaligned request bytes", async () => {
    const scalar = Tensor.fromArray("FP64", [], [2.5], "s");
    const empty = Tensor.fromArray("INT32", [0, 4], [], "e");
    const src = Tensor.fromArray("INT32", [3], [7, 8, 9]);
    const unaligned = new Uint8Array(new ArrayBuffer(13), 1, 12);
    unaligned.set(src.bytes);
    const odd = new Tensor("u", "INT32", [3], unaligned);
    const out = ok((await echo.execute([request([scalar, empty, odd])], 0))[0]);
    expect(out.OUT_s?.shape).toEqual([]);
    expect(out.OUT_s?.toArray()).toEqual([2.5]);
    expect(out.OUT_e?.shape).toEqual([0, 4]);
    expect(out.OUT_u?.toArray()).toEqual([7, 8, 9]);
  });

  it("answers with views of the worker's shared memory (no copy on the way out)", async () => {
    const t = Tensor.fromArray("FP32", [1024], new Array(1024).fill(1), "x");
    const out = ok((await echo.execute([request([t])], 0))[0]);
    const bytes = out.OUT_x!.bytes;
    expect(bytes.buffer).not.toBe(t.bytes.buffer);
    expect(bytes.byteOffset % 8).toBe(0);
    expect(shm().isMapping(bytes.buffer)).toBe(true); // the worker's arena itself, not a copy
  });

  it("hands the function read-only NumPy views of shared memory (no copy on the way in)", async () => {
    const { backend } = await start("inspect_inputs");
    const x = Tensor.fromArray("FP32", [256], new Array(256).fill(0.5), "x");
    const out = ok((await backend.execute([request([x])], 0))[0]);
    expect(out.in_shm?.toArray()).toEqual([true]);
    expect(out.writeable?.toArray()).toEqual([false]);
  }, 30_000);

  it("returns only requested outputs", async () => {
    const a = Tensor.fromArray("INT8", [1], [1], "a");
    const b = Tensor.fromArray("INT8", [1], [2], "b");
    const out = ok((await echo.execute([request([a, b], ["OUT_b"])], 0))[0]);
    expect(Object.keys(out)).toEqual(["OUT_b"]);
  });

  it("runs many batches in a row, releasing output slots", async () => {
    const x = Tensor.fromArray("UINT8", [200_000], new Uint8Array(200_000).fill(7), "x");
    for (let i = 0; i < 30; i++) {
      const out = ok((await echo.execute([request([x])], 0))[0]);
      expect(out.OUT_x?.bytes[199_999]).toBe(7);
    }
  });
});

describe("python backend: user code", () => {
  it("fails only the request whose call raised, with the exception type and message", async () => {
    const { backend } = await start("fail");
    const good = request([Tensor.fromArray("INT32", [1], [1], "x")]);
    const bad = request([Tensor.fromArray("INT32", [1], [-1], "x")]);
    const [r1, r2, r3] = await backend.execute([good, bad, good], 0);
    expect(ok(r1).y?.toArray()).toEqual([1]);
    expect(r2).toBeInstanceOf(Error);
    expect(isTensorbindError(r2) && r2.code).toBe("TB_ERR_INTERNAL");
    expect((r2 as Error).message).toBe("ValueError: x must be non-negative");
    expect(ok(r3).y?.toArray()).toEqual([1]);
  }, 30_000);

  it("answers tensorbind.InvalidArgument as a bad request, other exceptions as internal errors", async () => {
    const { backend } = await start("fail");
    const [r] = await backend.execute([request([Tensor.fromArray("INT32", [1], [2000], "x")])], 0);
    expect(isTensorbindError(r) && r.code).toBe("TB_ERR_INVALID_ARG");
    expect((r as Error).message).toBe("InvalidArgument: x must be at most 1000");
  }, 30_000);

  it("supports async def functions", async () => {
    const { backend } = await start("async_double");
    const out = ok((await backend.execute([request([Tensor.fromArray("FP32", [2], [1, 2], "x")])], 0))[0]);
    expect(out.y?.toArray()).toEqual([2, 4]);
  }, 30_000);

  it("reports a function that returns no dict", async () => {
    const { backend } = await start("wrong_type");
    const [r] = await backend.execute([request([Tensor.fromArray("FP32", [1], [1], "x")])], 0);
    expect((r as Error).message).toMatch(/^TypeError: the model function must return a dict/);
  }, 30_000);

  it("declares @tensorbind.model specs and batches requests into one call", async () => {
    const { backend, declaration } = await start("batched");
    expect(declaration?.maxBatchSize).toBe(8);
    expect(declaration?.inputs?.x).toEqual({ datatype: "FP32", shape: [-1], optional: false });
    expect(Object.keys(declaration?.outputs ?? {})).toEqual(["y", "rows"]);
    const r1 = request([Tensor.fromArray("FP32", [1, 2], [1, 2], "x")]);
    const r2 = request([Tensor.fromArray("FP32", [2, 2], [3, 4, 5, 6], "x")]);
    const [a, b] = await backend.execute([r1, r2], 0);
    expect(ok(a).y?.shape).toEqual([1, 2]);
    expect(ok(a).y?.toArray()).toEqual([2, 3]);
    expect(ok(b).y?.toArray()).toEqual([4, 5, 6, 7]);
    expect(ok(b).rows?.toArray()).toEqual([3, 3]); // one call saw all three rows
  }, 30_000);
});

describe("instances given to bind()", () => {
  it("start that many worker processes", async () => {
    const backend = python(FIXTURES, "echo", { interpreter: INTERPRETER }).create({ instances: 3 });
    expect(backend.instances).toBe(3);
    try {
      await backend.start({ model: "echo", version: "1", log: silentLogger, runtimeDir });
      const pids = ((backend as LazyBackend).loaded as PythonBackend).pids;
      expect(pids).toHaveLength(3);
      expect(new Set(pids).size).toBe(3); // three processes, not one counted thrice
      for (const pid of pids) expect(pid !== undefined && running(pid), `worker ${pid}`).toBe(true);
      await backend.stop();
      expect(pids.filter((pid) => running(pid!))).toEqual([]);
    } finally {
      await backend.stop();
    }
  }, 30_000);

  it("are refused when python() says otherwise", () => {
    expect(() =>
      python(FIXTURES, "echo", { interpreter: INTERPRETER, instances: 2 }).create({ instances: 3 }),
    ).toThrow(/both bind\(\) and python\(\)/);
  });
});
