import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tensor } from "../../../src/core/tensor-factory.js";
import { inferenceClient } from "../../helpers/grpc.js";
import { startServer } from "../../helpers/server.js";

// Defect 3: one request could freeze every endpoint: a 51 MiB JSON body with 10^6 inputs held
// the event loop for 2.6-5.5 s, health checks included. JSON is now capped apart from binary
// data (8 MiB by default), and the inputs, outputs and parameters of a request are capped.

let base: string;
let grpc: string;
let close: () => Promise<void>;
beforeAll(async () => {
  const server = await startServer(
    [
      {
        name: "m",
        inputs: { A: tensor("UINT8", [-1]) },
        outputs: { Y: tensor("UINT8", [-1]) },
        fn: ({ A }) => ({ Y: A! }),
      },
    ],
    { grpc: 0 },
  );
  base = server.urls.http!;
  grpc = server.urls.grpc!;
  close = () => server.close();
});
afterAll(() => close());

/** Polls readiness every 20 ms while `work` runs; resolves with the slowest answer's latency. */
async function slowestHealthDuring(work: Promise<unknown>): Promise<number> {
  let done = false;
  let slowest = 0;
  const poll = (async () => {
    while (!done) {
      const t = performance.now();
      const res = await fetch(`${base}/v2/health/ready`);
      expect(res.status).toBe(200);
      slowest = Math.max(slowest, performance.now() - t);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  await work;
  done = true;
  await poll;
  return slowest;
}

const input = (i: number) => ({ name: `A${i}`, shape: [1], datatype: "UINT8", data: [1] });

describe("defect 3: one request cannot freeze every endpoint", () => {
  it("refuses a 51 MiB JSON body with 10^6 inputs at once, and health stays fast", async () => {
    // Built as one buffer, so the test's own garbage does not pause the (shared) event loop.
    const one = JSON.stringify(input(0));
    const body = Buffer.from(`{"inputs":[${`${one},`.repeat(999_999)}${one}]}`);
    expect(body.length).toBeGreaterThan(50 << 20);
    let status = 0;
    let error = "";
    const slowest = await slowestHealthDuring(
      (async () => {
        const res = await fetch(`${base}/v2/models/m/infer`, { method: "POST", body });
        status = res.status;
        error = ((await res.json()) as { error: string }).error;
      })(),
    );
    expect(status).toBe(413);
    expect(error).toMatch(/JSON request body of \d+ bytes exceeds the limit of 8388608 bytes/);
    // Before: 2.6-5.5 s (20 s on this shared machine). The margin is for parallel test files.
    expect(slowest).toBeLessThan(1500);
  }, 60_000);

  it("refuses too many inputs, outputs or parameters within the JSON limit", async () => {
    const post = async (h: unknown) => {
      const res = await fetch(`${base}/v2/models/m/infer`, { method: "POST", body: JSON.stringify(h) });
      return { status: res.status, error: ((await res.json()) as { error: string }).error };
    };
    const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${i}`, i]));
    expect(await post({ inputs: Array.from({ length: 20_000 }, (_, i) => input(i)) })).toEqual({
      status: 413,
      error: "request has 20000 inputs; the limit is 1024 (--max-inputs)",
    });
    const outputs = Array.from({ length: 2000 }, (_, i) => ({ name: `O${i}` }));
    expect((await post({ inputs: [input(0)], outputs })).error).toMatch(/2000 outputs; the limit is 1024/);
    expect((await post({ parameters: many(300), inputs: [input(0)] })).error).toMatch(/300 parameters/);
    const tensorParams = { ...input(0), parameters: many(257) };
    expect((await post({ inputs: [tensorParams] })).error).toMatch(/a tensor has 257 parameters/);
  });

  it("still takes binary tensors far larger than the JSON limit", async () => {
    const bin = Buffer.alloc(12 << 20, 7);
    const head = Buffer.from(
      JSON.stringify({
        inputs: [
          { name: "A", shape: [bin.length], datatype: "UINT8", parameters: { binary_data_size: bin.length } },
        ],
        outputs: [{ name: "Y", parameters: { binary_data: true } }],
      }),
    );
    const res = await fetch(`${base}/v2/models/m/infer`, {
      method: "POST",
      headers: { "Inference-Header-Content-Length": String(head.length) },
      body: Buffer.concat([head, bin]),
    });
    expect(res.status).toBe(200);
    expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(bin.length);
  });

  it("refuses a JSON header longer than the limit in a binary request", async () => {
    const res = await fetch(`${base}/v2/models/m/infer`, {
      method: "POST",
      headers: { "Inference-Header-Content-Length": String(9 << 20) },
      body: Buffer.alloc(10 << 20, 32),
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: string }).error).toMatch(
      /JSON request header of 9437184 bytes .*\(--max-json-bytes\)/,
    );
  });

  it("applies the same caps over gRPC", async () => {
    const client = inferenceClient(grpc);
    try {
      const inputs = Array.from({ length: 5000 }, (_, i) => ({
        name: `A${i}`,
        datatype: "UINT8",
        shape: [1],
        contents: { uint_contents: [1] },
      }));
      await expect(client.call("ModelInfer", { model_name: "m", inputs })).rejects.toMatchObject({
        code: 8,
        details: "request has 5000 inputs; the limit is 1024 (--max-inputs)",
      });
      const ok = await client
        .call("ModelInfer", { model_name: "m", inputs: inputs.slice(0, 1) })
        .catch((e) => e);
      expect(ok.code).not.toBe(8); // one input gets past the cap (its name is wrong for this model)
    } finally {
      client.close();
    }
  });
});
