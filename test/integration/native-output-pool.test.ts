import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { datatypeCode, loadNativeAddon } from "../../src/backends/native/addon.js";
import { native } from "../../src/backends/native/index.js";
import type { NativeBackend } from "../../src/backends/native/native-backend.js";
import { takeRelease } from "../../src/core/release.js";
import { Tensor } from "../../src/core/tensor.js";
import { binaryBody, parseBinaryResponse, startServer } from "../helpers/server.js";

// A native model's large outputs come from a pool of blocks that go back when the response has
// been written (or the client is gone), not when the garbage collector finds their buffers: the
// next request writes into the same memory instead of faulting in fresh pages.

const FIXTURES = "test/fixtures/native/build/Release/fixtures.node";
const N = 1 << 20; // 4 MiB of FP32 out
let server: Awaited<ReturnType<typeof startServer>>;

beforeAll(async () => {
  server = await startServer([{ name: "out", fn: native(FIXTURES, "output_address") }]);
}, 30_000);
afterAll(async () => {
  await server?.close();
});

function pool() {
  return (server.registry.get("out").backend as NativeBackend).poolStats()[0]!;
}

function body(seed: number) {
  const x = new Float32Array(N).map((_, i) => i * 0.5 + seed);
  const header = {
    inputs: [{ name: "X", datatype: "FP32", shape: [N], parameters: { binary_data_size: x.byteLength } }],
    outputs: [
      { name: "Y", parameters: { binary_data: true } },
      { name: "ADDR", parameters: { binary_data: true } },
    ],
  };
  return { x, ...binaryBody(header, [new Uint8Array(x.buffer)]) };
}

/** One request; returns where the model's output Y lay, after checking Y's bytes. */
async function send(seed: number): Promise<bigint> {
  const { x, body: b, headerLength } = body(seed);
  const res = await fetch(`${server.urls.http}/v2/models/out/infer`, {
    method: "POST",
    headers: { "Inference-Header-Content-Length": String(headerLength) },
    body: b,
  });
  expect(res.status).toBe(200);
  const buf = Buffer.from(await res.arrayBuffer());
  const out = parseBinaryResponse(buf, Number(res.headers.get("inference-header-content-length")));
  expect(Buffer.compare(out.outputs.Y!, Buffer.from(x.buffer))).toBe(0);
  return out.outputs.ADDR!.readBigUInt64LE(0);
}

/** Waits for the server to see the response closed: its 'close' releases the output. */
async function settled(): Promise<void> {
  const end = Date.now() + 5000;
  while (pool().leased > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
}

describe("native output pool", () => {
  it("reuses one block for sequential large outputs (no growth), the bytes intact", async () => {
    const first = await send(1);
    await settled();
    for (let i = 2; i <= 8; i++) {
      expect(await send(i)).toBe(first);
      await settled();
    }
    expect(pool()).toMatchObject({ blocks: 1, leased: 0 });
    expect(pool().bytes).toBeGreaterThanOrEqual(4 * N);
  });

  it("takes the block back when the client goes away mid-response", async () => {
    const before = await send(10);
    await settled();
    const { body: b, headerLength } = body(11);
    await new Promise<void>((resolve, reject) => {
      const req = request(
        `${server.urls.http}/v2/models/out/infer`,
        { method: "POST", headers: { "Inference-Header-Content-Length": String(headerLength) } },
        (res) => {
          expect(res.statusCode).toBe(200);
          res.once("data", () => {
            res.destroy(); // gone after the first chunk of 4 MiB
            resolve();
          });
        },
      );
      req.on("error", reject);
      req.end(b);
    });
    await settled();
    expect(pool().leased).toBe(0);
    expect(await send(12)).toBe(before);
    expect(pool().blocks).toBe(1);
  });

  it("gives an idle block's pages back even while a released buffer still views it", async () => {
    const api = loadNativeAddon(FIXTURES);
    const inst = new api.Instance("output_address", 0, -1);
    await inst.start();
    try {
      const x = new Float32Array(N).fill(3);
      const outs = await inst.run(
        ["X"],
        [datatypeCode("FP32")],
        [[N]],
        [new Uint8Array(x.buffer)],
        ["Y", "ADDR"],
      );
      const y = outs.find((o) => o[0] === "Y")!;
      const kept = new Float32Array(y[3] as ArrayBuffer); // held on purpose: the collector cannot free it
      expect(kept[7]).toBe(3);
      inst.release!([y[4]!]);
      const end = Date.now() + 10_000; // idle blocks go after 2 s, checked every second
      while (inst.poolStats!().blocks > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
      expect(inst.poolStats!()).toMatchObject({ blocks: 0, bytes: 0, leased: 0 });
      expect(kept.every((v) => v === 0)).toBe(true); // its pages went back: zeros, never freed memory
    } finally {
      await inst.stop();
    }
  }, 20_000);

  it("frees idle blocks after a burst", async () => {
    await Promise.all([send(20), send(21), send(22)]);
    await settled();
    expect(pool().blocks).toBeGreaterThanOrEqual(1);
    const end = Date.now() + 10_000; // idle blocks go after 2 s, checked every second
    while (pool().blocks > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    expect(pool()).toMatchObject({ blocks: 0, bytes: 0, leased: 0 });
  }, 20_000);

  it("detaches a pooled output's buffer when its block goes back: no view reads reused memory, V8 stops counting it", async () => {
    const backend = server.registry.get("out").backend as NativeBackend;
    const x = new Float32Array(N).fill(5);
    const X = new Tensor("X", "FP32", [N], new Uint8Array(x.buffer));
    const [result] = await backend.execute(
      [{ id: undefined, inputs: { X }, parameters: {}, requestedOutputs: ["Y"], signal: undefined }],
      0,
    );
    if (result instanceof Error) throw result;
    const y = result!.Y!.data as Float32Array;
    expect(y.length).toBe(N);
    expect(y[9]).toBe(5);
    takeRelease(result!)!();
    expect(y.buffer.byteLength).toBe(0);
    expect(pool().leased).toBe(0);
  });
});
