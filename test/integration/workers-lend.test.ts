import { request as httpRequest, type IncomingMessage } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { native } from "../../src/backends/native/index.js";
import type { NativeBackend } from "../../src/backends/native/native-backend.js";
import { tensor } from "../../src/core/tensor-factory.js";
import { inferenceClient } from "../helpers/grpc.js";
import { binaryBody, parseBinaryResponse, startServer } from "../helpers/server.js";

// With frontend threads, large outputs are lent to the thread that writes them (by address, the
// engine's thread keeping the memory until the thread releases it) instead of copied: the bytes
// arrive intact, every lent response comes back, and a native model's pooled output block goes
// back to its pool through the thread's release.

const FIXTURES = "test/fixtures/native/build/Release/fixtures.node";
const N = 1 << 17; // 0.5 MiB of FP32: above the 64 KiB from which outputs are lent
let server: Awaited<ReturnType<typeof startServer>>;

beforeAll(async () => {
  server = await startServer(
    [
      {
        name: "js_double",
        inputs: { X: tensor("FP32", [-1]) },
        outputs: { Y: tensor("FP32", [-1]) },
        fn: ({ X }) => ({ Y: (X!.data as Float32Array).map((v) => v * 2) }),
      },
      { name: "native_out", fn: native(FIXTURES, "output_address") },
    ],
    { workers: 2, grpc: 0, metrics: false },
  );
}, 30_000);
afterAll(async () => {
  await server?.close();
});

const input = (seed: number) => new Float32Array(N).map((_, i) => i + seed);

/** One HTTP request on a connection of its own (connections spread over the threads). */
function post(model: string, x: Float32Array, outputs: string[]): Promise<Record<string, Buffer>> {
  const header = {
    inputs: [{ name: "X", datatype: "FP32", shape: [N], parameters: { binary_data_size: x.byteLength } }],
    outputs: outputs.map((name) => ({ name, parameters: { binary_data: true } })),
  };
  const { body, headerLength } = binaryBody(header, [new Uint8Array(x.buffer)]);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${server.urls.http}/v2/models/${model}/infer`,
      {
        method: "POST",
        agent: false,
        headers: { "Inference-Header-Content-Length": String(headerLength), "Content-Length": body.length },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          if (res.statusCode !== 200) return reject(new Error(`status ${res.statusCode}`));
          const h = Number(res.headers["inference-header-content-length"]);
          resolve(parseBinaryResponse(Buffer.concat(chunks), h).outputs);
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

async function settled(): Promise<void> {
  const pool = server.frontendPool!;
  const end = Date.now() + 5000;
  while (pool.lentResponses() > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
}

function nativePool() {
  return (server.registry.get("native_out").backend as NativeBackend).poolStats()[0]!;
}

describe("frontend threads read large outputs where the engine left them", () => {
  it("answers JS and native outputs intact over HTTP, and every lent response comes back", async () => {
    const jobs = Array.from({ length: 24 }, async (_, i) => {
      const x = input(i);
      if (i % 2 === 0) {
        const out = await post("js_double", x, ["Y"]);
        expect(Buffer.compare(out.Y!, Buffer.from(x.map((v) => v * 2).buffer))).toBe(0);
      } else {
        const out = await post("native_out", x, ["Y", "ADDR"]);
        expect(Buffer.compare(out.Y!, Buffer.from(x.buffer))).toBe(0);
      }
    });
    await Promise.all(jobs);
    await settled();
    expect(server.frontendPool!.lentResponses()).toBe(0);
    expect(nativePool().leased).toBe(0);
  });

  it("reuses the native model's output block: the thread's release reaches the pool", async () => {
    const first = (await post("native_out", input(1), ["Y", "ADDR"])).ADDR!.readBigUInt64LE(0);
    await settled();
    for (let i = 0; i < 4; i++) {
      const out = await post("native_out", input(i), ["Y", "ADDR"]);
      expect(out.ADDR!.readBigUInt64LE(0)).toBe(first);
      expect(Buffer.compare(out.Y!, Buffer.from(input(i).buffer))).toBe(0);
      await settled();
    }
  });

  it("keeps a lent response until the thread has written it to a slow client", async () => {
    const big = new Float32Array(4 << 20).fill(1.5); // 16 MiB out: more than the socket buffers hold
    const header = {
      inputs: [
        {
          name: "X",
          datatype: "FP32",
          shape: [big.length],
          parameters: { binary_data_size: big.byteLength },
        },
      ],
      outputs: [{ name: "Y", parameters: { binary_data: true } }],
    };
    const { body, headerLength } = binaryBody(header, [new Uint8Array(big.buffer)]);
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = httpRequest(
        `${server.urls.http}/v2/models/js_double/infer`,
        {
          method: "POST",
          agent: false,
          headers: { "Inference-Header-Content-Length": String(headerLength), "Content-Length": body.length },
        },
        resolve,
      );
      req.on("error", reject);
      req.end(body);
    });
    // Not reading: the thread cannot finish the response, so the engine still lends its output.
    const end = Date.now() + 5000;
    while (server.frontendPool!.lentResponses() === 0 && Date.now() < end)
      await new Promise((r) => setTimeout(r, 10));
    expect(server.frontendPool!.lentResponses()).toBe(1);
    const chunks: Buffer[] = [];
    res.on("data", (c: Buffer) => chunks.push(c));
    await new Promise((r) => res.on("end", r));
    const out = parseBinaryResponse(
      Buffer.concat(chunks),
      Number(res.headers["inference-header-content-length"]),
    );
    expect(out.outputs.Y!.equals(Buffer.from(big.map((v) => v * 2).buffer))).toBe(true);
    await settled();
    expect(server.frontendPool!.lentResponses()).toBe(0);
  });

  it("answers lent outputs over gRPC too", async () => {
    const client = inferenceClient(server.urls.grpc!);
    try {
      const x = input(5);
      const reply = await client.call("ModelInfer", {
        model_name: "js_double",
        inputs: [{ name: "X", datatype: "FP32", shape: [N] }],
        raw_input_contents: [Buffer.from(x.buffer)],
      });
      expect(Buffer.compare(reply.raw_output_contents[0], Buffer.from(x.map((v) => v * 2).buffer))).toBe(0);
    } finally {
      client.close();
    }
    await settled();
    expect(server.frontendPool!.lentResponses()).toBe(0);
  });
});
