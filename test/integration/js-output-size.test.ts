// A JS function that returns an output of the wrong size is the model's mistake: 500 and a log
// line naming the model, the output and both sizes — never a 400 that blames the client.
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tensor } from "../../src/core/tensor-factory.js";
import { inferJson, startServer } from "../helpers/server.js";

const lines: string[] = [];
let base: string;
let close: () => Promise<void>;

beforeAll(async () => {
  const logger = pino({ level: "info" }, { write: (s: string) => void lines.push(s) });
  const server = await startServer(
    [
      {
        name: "short",
        inputs: { X: tensor("FP32", [4]) },
        outputs: { Y: tensor("FP32", [4]) },
        fn: () => ({ Y: new Float32Array(3) }),
      },
      {
        name: "shaped",
        maxBatchSize: 4,
        inputs: { X: tensor("INT32", [2]) },
        outputs: { Y: tensor("INT32", [2]) },
        fn: () => ({ Y: { shape: [1, 2], data: [1, 2, 3] } }),
      },
    ],
    { logger },
  );
  base = server.urls.http!;
  close = () => server.close();
});
afterAll(() => close());

describe("a JS model returning a wrong-sized output", () => {
  it("answers 500 naming the model, the output and the sizes, and logs it", async () => {
    const r = await inferJson(base, "short", {
      inputs: [{ name: "X", datatype: "FP32", shape: [4], data: [1, 2, 3, 4] }],
    });
    expect(r.status).toBe(500);
    expect(r.body.error).toMatch(
      /model 'short' returned output 'Y' with 3 elements, but its shape \[4\] holds 4/,
    );
    const logged = lines.map((l) => JSON.parse(l)).filter((l) => l.level === 50);
    expect(logged.length).toBeGreaterThan(0);
    expect(JSON.stringify(logged.at(-1))).toMatch(
      /model 'short' returned output 'Y' with 3 elements.*holds 4/,
    );
  });

  it("does the same for { shape, data } that do not agree", async () => {
    const r = await inferJson(base, "shaped", {
      inputs: [{ name: "X", datatype: "INT32", shape: [1, 2], data: [1, 2] }],
    });
    expect(r.status).toBe(500);
    expect(r.body.error).toMatch(
      /model 'shaped' returned output 'Y' with 3 elements, but its shape \[1,2\] holds 2/,
    );
  });

  it("keeps serving", async () => {
    const r = await fetch(`${base}/v2/health/ready`);
    expect(r.status).toBe(200);
  });
});
