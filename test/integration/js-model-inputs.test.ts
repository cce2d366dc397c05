// What a JS model sees of its inputs: an absent optional input is absent (not a crash in the
// server), and a batched function that reads a name the model does not have gets an error naming it.
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { batch } from "../../src/backends/js/decorators/index.js";
import { tensor } from "../../src/core/tensor-factory.js";
import { inferJson, startServer } from "../helpers/server.js";

const lines: string[] = [];
let base: string;
let close: () => Promise<void>;

beforeAll(async () => {
  const logger = pino({ level: "info" }, { write: (s: string) => void lines.push(s) });
  const inputs = { X: tensor("FP32", [2]), S: tensor("FP32", [1], { optional: true }) };
  const server = await startServer(
    [
      {
        name: "scale",
        inputs,
        outputs: { Y: tensor("FP32", [2]) },
        fn: ({ X, S }) => {
          const s = (S?.data as Float32Array | undefined)?.[0] ?? 1;
          return { Y: (X!.data as Float32Array).map((v) => v * s) };
        },
      },
      {
        name: "stray",
        maxBatchSize: 4,
        batching: true,
        inputs: { X: tensor("FP32", [2]) },
        outputs: { Y: tensor("FP32", [2]) },
        // A JS user (no compiler) destructures a name that is no input.
        fn: batch(({ X, Q }) => ({ Y: Q ?? X! })),
      },
    ],
    { logger },
  );
  base = server.urls.http!;
  close = () => server.close();
});
afterAll(() => close());

const X = { name: "X", datatype: "FP32", shape: [2], data: [1, 2] };

describe("JS model inputs", () => {
  it("leaves an absent optional input absent", async () => {
    const r = await inferJson(base, "scale", { inputs: [X] });
    expect(r.status).toBe(200);
    expect(r.body.outputs[0].data).toEqual([1, 2]);
    const s = await inferJson(base, "scale", {
      inputs: [X, { name: "S", datatype: "FP32", shape: [1], data: [3] }],
    });
    expect(s.body.outputs[0].data).toEqual([3, 6]);
  });

  it("names a stray input read by a batched function (500, logged)", async () => {
    const r = await inferJson(base, "stray", { inputs: [{ ...X, shape: [1, 2] }] });
    expect(r.status).toBe(500);
    expect(r.body.error).toMatch(/model 'stray': the batched function reads input 'Q'.*\(inputs: X\)/);
    expect(lines.some((l) => l.includes("reads input 'Q'"))).toBe(true);
  });
});
