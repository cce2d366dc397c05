import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tensor } from "../../src/core/tensor-factory.js";
import { binaryBody, parseBinaryResponse, startServer } from "../helpers/server.js";

// A JS model's ctx.output() arrays reuse the memory of earlier responses once those have been
// written (or their clients have gone), instead of fresh pages per request; the bytes of
// concurrent responses never mix.

const N = 1 << 17; // 0.5 MiB of FP32
const seen: ArrayBufferLike[] = [];
let server: Awaited<ReturnType<typeof startServer>>;

beforeAll(async () => {
  server = await startServer([
    {
      name: "twice",
      instances: 4,
      inputs: { X: tensor("FP32", [-1]) },
      outputs: { Y: tensor("FP32", [-1]) },
      fn: async ({ X }, ctx) => {
        const y = ctx.output("Y", X!.shape) as Float32Array;
        const x = X!.data as Float32Array;
        for (let i = 0; i < x.length; i++) y[i] = 2 * x[i]!;
        seen.push(y.buffer);
        await new Promise((r) => setTimeout(r, 5)); // concurrent requests overlap here
        return { Y: y };
      },
    },
  ]);
}, 30_000);
afterAll(async () => {
  await server?.close();
});

function body(seed: number) {
  const x = new Float32Array(N).map((_, i) => i + seed);
  const header = {
    inputs: [{ name: "X", datatype: "FP32", shape: [N], parameters: { binary_data_size: x.byteLength } }],
    outputs: [{ name: "Y", parameters: { binary_data: true } }],
  };
  return { x, ...binaryBody(header, [new Uint8Array(x.buffer)]) };
}

async function send(seed: number): Promise<void> {
  const { x, body: b, headerLength } = body(seed);
  const res = await fetch(`${server.urls.http}/v2/models/twice/infer`, {
    method: "POST",
    headers: { "Inference-Header-Content-Length": String(headerLength) },
    body: b,
  });
  expect(res.status).toBe(200);
  const buf = Buffer.from(await res.arrayBuffer());
  const y = parseBinaryResponse(buf, Number(res.headers.get("inference-header-content-length"))).outputs.Y!;
  expect(y.equals(Buffer.from(x.map((v) => 2 * v).buffer))).toBe(true);
}

/** Lets the server see the response closed (its 'close' gives the array back). */
const settle = () => new Promise((r) => setTimeout(r, 30));

describe("ctx.output() in a JS model", () => {
  it("reuses an output's memory once its response is written", async () => {
    seen.length = 0;
    for (let i = 0; i < 4; i++) {
      await send(i);
      await settle();
    }
    expect(new Set(seen).size).toBe(1);
  });

  it("gives concurrent requests their own memory, answered intact", async () => {
    seen.length = 0;
    await Promise.all([1, 2, 3, 4].map((s) => send(s * 1000)));
    expect(seen).toHaveLength(4); // each filled while others were in flight, and each answered intact
  });

  it("takes the memory back when the client goes away mid-response", async () => {
    await send(5);
    await settle();
    seen.length = 0;
    const { body: b, headerLength } = body(6);
    await new Promise<void>((resolve, reject) => {
      const req = request(
        `${server.urls.http}/v2/models/twice/infer`,
        { method: "POST", headers: { "Inference-Header-Content-Length": String(headerLength) } },
        (res) => {
          res.once("data", () => {
            res.destroy();
            resolve();
          });
        },
      );
      req.on("error", reject);
      req.end(b);
    });
    await settle();
    await send(7);
    expect(seen).toHaveLength(2);
    expect(seen[1]).toBe(seen[0]);
  });
});
