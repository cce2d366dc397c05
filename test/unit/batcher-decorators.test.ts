import { describe, expect, it } from "vitest";
import {
  type BatchContext,
  batch,
  batchAware,
  constantPadder,
  fillOptionals,
  firstValue,
  groupByKeys,
  groupByValues,
  padBatch,
  type Result,
  sample,
} from "../../src/backends/js/decorators/index.js";
import type { CallContext, Request } from "../../src/backends/js/function-types.js";
import { resolveScheduling } from "../../src/core/scheduling.js";
import type { ModelSpec } from "../../src/core/spec.js";
import { Tensor } from "../../src/core/tensor.js";
import { tensor } from "../../src/core/tensor-factory.js";

const spec: ModelSpec = {
  name: "m",
  version: "1",
  inputs: { X: tensor("FP32", [2]), T: tensor("FP32", [1]), OPT: tensor("INT32", [2], { optional: true }) },
  outputs: { Y: tensor("FP32", [2]), N: tensor("INT32", [1]), S: tensor("BYTES", [-1]) },
  maxBatchSize: 8,
  strict: true,
  platform: "tensorbind_js",
  instances: 1,
  scheduling: resolveScheduling({ maxBatchSize: 8, batching: { preferredBatchSizes: [4] } }),
};

const callCtx = (id: string): CallContext => ({
  id,
  parameters: {},
  requestedOutputs: [],
  signal: undefined,
  output: () => new Float32Array(0),
});
const ctxFor = (requests: Request[], s: ModelSpec = spec): BatchContext => ({
  requests: requests.map((_, i) => callCtx(String(i))),
  spec: s,
});
const x = (rows: number[][]) => Tensor.fromArray("FP32", [rows.length, 2], rows.flat(), "X");
const col = (name: string, values: number[], datatype: "FP32" | "INT32" = "FP32") =>
  Tensor.fromArray(datatype, [values.length, 1], values, name);
const rowsOf = (r: Result, name: string) => (r[name] as Tensor).toArray();
const run = (
  fn: { call(r: Request[], c: BatchContext): Result[] | Promise<Result[]> },
  requests: Request[],
) => (async () => fn.call(requests, ctxFor(requests)))();

describe("batch()", () => {
  it("concatenates the requests, calls the function once and splits the outputs by rows", async () => {
    const seen: number[][] = [];
    const fn = batch(({ X }) => {
      seen.push([...X!.shape]);
      return { Y: (X!.data as Float32Array).map((v) => v * 10) };
    });
    const out = await run(fn, [
      { X: x([[1, 2]]) },
      {
        X: x([
          [3, 4],
          [5, 6],
        ]),
      },
    ]);
    expect(seen).toEqual([[3, 2]]);
    expect(rowsOf(out[0]!, "Y")).toEqual([10, 20]);
    expect(rowsOf(out[1]!, "Y")).toEqual([30, 40, 50, 60]);
    expect((out[1]!.Y as Tensor).shape).toEqual([2, 2]);
  });

  it("splits BYTES outputs by rows too", async () => {
    const fn = batch(({ X }) => ({
      S: Tensor.fromStrings(
        [X!.shape[0]!, 1],
        Array.from({ length: X!.shape[0]! }, (_, i) => `row${i}`),
      ),
    }));
    const out = await run(fn, [
      { X: x([[1, 2]]) },
      {
        X: x([
          [3, 4],
          [5, 6],
        ]),
      },
    ]);
    expect((out[1]!.S as Tensor).strings()).toEqual(["row1", "row2"]);
  });

  it("refuses requests with different inputs and outputs with the wrong number of rows", async () => {
    const fn = batch(({ X }) => ({ Y: X! }));
    await expect(run(fn, [{ X: x([[1, 2]]) }, { X: x([[1, 2]]), T: col("T", [1]) }])).rejects.toThrow(
      /different sets of inputs/,
    );
    const short = batch(() => ({ Y: Tensor.fromArray("FP32", [1, 2], [0, 0]) }));
    await expect(run(short, [{ X: x([[1, 2]]) }, { X: x([[1, 2]]) }])).rejects.toThrow(
      /the batch holds 2 rows/,
    );
  });
});

describe("sample() and groupByKeys()", () => {
  it("sample() calls the function once per request with that request's context", async () => {
    const ids: (string | undefined)[] = [];
    const fn = sample((inputs, ctx) => {
      ids.push(ctx.id);
      return { Y: inputs.X! };
    });
    const out = await run(fn, [{ X: x([[1, 2]]) }, { X: x([[3, 4]]) }]);
    expect(ids).toEqual(["0", "1"]);
    expect(rowsOf(out[1]!, "Y")).toEqual([3, 4]);
  });

  it("groupByKeys() serves requests with different inputs in groups and keeps their order", async () => {
    const groups: string[][] = [];
    const fn = groupByKeys(
      batch((inputs) => {
        groups.push(Object.keys(inputs).sort());
        return { Y: inputs.X! };
      }),
    );
    const out = await run(fn, [
      { X: x([[1, 1]]) },
      { X: x([[2, 2]]), OPT: Tensor.fromArray("INT32", [1, 2], [0, 0], "OPT") },
      { X: x([[3, 3]]) },
    ]);
    expect(groups.sort()).toEqual([["OPT", "X"], ["X"]]);
    expect(out.map((r) => rowsOf(r, "Y")[0])).toEqual([1, 2, 3]);
  });
});

describe("groupByValues()", () => {
  it("calls the function once per distinct value and merges rows back in order", async () => {
    const calls: number[] = [];
    const fn = batch(
      groupByValues("T")(({ X, T }) => {
        const t = (T!.data as Float32Array)[0]!;
        calls.push(t);
        return { Y: (X!.data as Float32Array).map((v) => v * t) };
      }),
    );
    const out = await run(fn, [
      {
        X: x([
          [1, 1],
          [1, 1],
          [1, 1],
        ]),
        T: col("T", [2, 3, 2]),
      },
    ]);
    expect(calls.sort()).toEqual([2, 3]);
    expect(rowsOf(out[0]!, "Y")).toEqual([2, 2, 3, 3, 2, 2]);
  });

  it("pads outputs of different shapes with constantPadder()", async () => {
    const fn = groupByValues("T", { padFn: constantPadder(-1) })(({ T }) => {
      const width = (T!.data as Float32Array)[0]!;
      const rows = T!.shape[0]!;
      return { Y: { shape: [rows, width], data: new Float32Array(rows * width).fill(1) } };
    });
    const out = await fn({ T: col("T", [1, 2, 1]) }, ctxFor([]));
    expect((out.Y as Tensor).shape).toEqual([3, 2]);
    expect((out.Y as Tensor).toArray()).toEqual([1, -1, 1, 1, 1, -1]);
  });
});

describe("padBatch()", () => {
  it("pads to the next preferred size by repeating the last row and trims the outputs", async () => {
    const seen: Tensor[] = [];
    const fn = batch(
      padBatch(({ X }) => {
        seen.push(X!);
        return { Y: X! };
      }),
    );
    const out = await run(fn, [
      { X: x([[1, 2]]) },
      {
        X: x([
          [3, 4],
          [5, 6],
        ]),
      },
    ]);
    expect(seen[0]!.shape).toEqual([4, 2]);
    expect(seen[0]!.toArray().slice(6)).toEqual([5, 6]);
    expect((out[1]!.Y as Tensor).shape).toEqual([2, 2]);
    await run(fn, [
      {
        X: x([
          [1, 1],
          [1, 1],
          [1, 1],
          [1, 1],
          [1, 1],
        ]),
      },
    ]);
    expect(seen[1]!.shape).toEqual([8, 2]); // past the preferred size: maxBatchSize
  });
});

describe("firstValue()", () => {
  it("gives the function the first row of an input, as a plain value", async () => {
    let temperature: unknown;
    const fn = batch(
      firstValue("T")(({ X, T }) => {
        temperature = T;
        return { Y: X as Tensor };
      }),
    );
    await run(fn, [
      { X: x([[1, 2]]), T: col("T", [0.5]) },
      { X: x([[1, 2]]), T: col("T", [0.5]) },
    ]);
    expect(temperature).toBe(0.5);
  });

  it("refuses rows that disagree unless strict is off", async () => {
    let temperature: unknown;
    const inner = ({ X, T }: Record<string, unknown>) => {
      temperature = T;
      return { Y: X as Tensor };
    };
    const inputs = {
      X: x([
        [1, 2],
        [3, 4],
      ]),
      T: col("T", [0.5, 0.7]),
    };
    await expect((async () => firstValue("T")(inner)(inputs, ctxFor([])))()).rejects.toThrow(
      /values on the 'T' input are not equal/,
    );
    expect(temperature).toBeUndefined(); // refused before the function ran
    const out = await (async () => firstValue("T", { strict: false })(inner)(inputs, ctxFor([])))();
    expect(temperature).toBe(0.5); // the first row's value, the second row's 0.7 ignored
    expect((out as Result).Y).toBe(inputs.X);
  });

  it("works on a function of requests, each request on its own", async () => {
    const values: unknown[] = [];
    const fn = firstValue("T", { squeezeSingleValues: false })(
      batchAware((requests) => {
        for (const r of requests) values.push((r.T as Tensor).shape);
        return requests.map(() => ({}));
      }),
    );
    await run(fn, [{ T: col("T", [1, 1]) }, { T: col("T", [2]) }]);
    expect(values).toEqual([[1], [1]]);
  });

  it("needs a model that batches", async () => {
    const fn = firstValue("T")(({ T }) => ({ Y: T as Tensor }));
    expect(() => fn({ T: col("T", [1]) }, ctxFor([], { ...spec, maxBatchSize: 0 }))).toThrow(
      /models that batch/,
    );
  });
});

describe("fillOptionals()", () => {
  it("fills a missing input with its default, repeated for each row", async () => {
    const seen: number[][] = [];
    const fn = fillOptionals({ OPT: [7, 8] })(
      batch(({ OPT }) => {
        seen.push(OPT!.toArray() as number[]);
        return { N: Tensor.fromArray("INT32", [OPT!.shape[0]!, 1], [0, 0, 0]) };
      }),
    );
    await run(fn, [
      {
        X: x([
          [1, 1],
          [2, 2],
        ]),
      },
      { X: x([[3, 3]]), OPT: Tensor.fromArray("INT32", [1, 2], [1, 2], "OPT") },
    ]);
    expect(seen).toEqual([[7, 8, 7, 8, 1, 2]]);
  });

  it("checks the defaults against the model's inputs", async () => {
    const fn = (d: Parameters<typeof fillOptionals>[0]) => fillOptionals(d)(batch(({ X }) => ({ Y: X! })));
    await expect(run(fn({ NOPE: [1] }), [{ X: x([[1, 2]]) }])).rejects.toThrow(/no input 'NOPE'/);
    const wrongShape = { OPT: Tensor.fromArray("INT32", [3], [1, 2, 3]) };
    await expect(run(fn(wrongShape), [{ X: x([[1, 2]]) }])).rejects.toThrow(
      /default of 'OPT' has shape \[3\], the input \[2\]/,
    );
  });
});
