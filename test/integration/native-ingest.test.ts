import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { native } from "../../src/backends/native/index.js";
import { shm } from "../../src/backends/shm-addon.js";
import type { RequestBuffer } from "../../src/core/backend.js";
import { InferenceEngine } from "../../src/model/engine.js";
import { binaryBody, parseBinaryResponse, startServer } from "../helpers/server.js";

// The copy budget of the native path over HTTP: a binary body is read from the socket into one
// buffer whose tensor data is 64-byte aligned, and the native model's input pointer lies inside
// that very buffer (no concatenation, no alignment copy).

const FIXTURES = "test/fixtures/native/build/Release/fixtures.node";
let server: Awaited<ReturnType<typeof startServer>>;

beforeAll(async () => {
  server = await startServer([{ name: "where", fn: native(FIXTURES, "input_address") }]);
}, 30_000);
afterAll(async () => {
  await server?.close();
});

async function send(n: number) {
  const x = new Float32Array(n).fill(2);
  const header = {
    inputs: [{ name: "X", datatype: "FP32", shape: [n], parameters: { binary_data_size: x.byteLength } }],
    outputs: [{ name: "ADDR", parameters: { binary_data: true } }],
  };
  const { body, headerLength } = binaryBody(header, [new Uint8Array(x.buffer)]);
  const res = await fetch(`${server.urls.http}/v2/models/where/infer`, {
    method: "POST",
    headers: { "Inference-Header-Content-Length": String(headerLength) },
    body,
  });
  expect(res.status).toBe(200);
  await res.arrayBuffer();
}

describe("native model over HTTP: zero-copy ingest", () => {
  it("reuses a large body's buffer for the next request (no fresh pages per request)", async () => {
    const lent = vi.spyOn(InferenceEngine.prototype, "requestBuffer");
    try {
      await send(1 << 20);
      await new Promise((r) => setTimeout(r, 20)); // the response's 'close' gives the buffer back
      await send(1 << 20);
      const [a, b] = lent.mock.results.map((r) => (r.value as RequestBuffer).bytes.buffer);
      expect(b).toBe(a);
    } finally {
      lent.mockRestore();
    }
  });

  it.each([1, 1000, 1 << 20])(
    "hands the model a 64-byte aligned pointer into the request buffer (%i floats)",
    async (n) => {
      const lent = vi.spyOn(InferenceEngine.prototype, "requestBuffer");
      try {
        const x = new Float32Array(n).fill(2);
        const header = {
          inputs: [
            { name: "X", datatype: "FP32", shape: [n], parameters: { binary_data_size: x.byteLength } },
          ],
          outputs: [{ name: "ADDR", parameters: { binary_data: true } }],
        };
        const { body, headerLength } = binaryBody(header, [new Uint8Array(x.buffer)]);
        const res = await fetch(`${server.urls.http}/v2/models/where/infer`, {
          method: "POST",
          headers: { "Inference-Header-Content-Length": String(headerLength) },
          body,
        });
        expect(res.status).toBe(200);
        const buf = Buffer.from(await res.arrayBuffer());
        const out = parseBinaryResponse(buf, Number(res.headers.get("inference-header-content-length")));
        const addr = Number(out.outputs.ADDR!.readBigUInt64LE(0));
        expect(lent).toHaveBeenCalledTimes(1);
        const { bytes } = lent.mock.results[0]!.value as RequestBuffer;
        expect(bytes.byteLength).toBe(body.length);
        const start = shm().address(bytes.buffer) + bytes.byteOffset;
        expect(addr).toBe(start + headerLength); // inside the buffer the socket filled
        expect(addr % 64).toBe(0);
      } finally {
        lent.mockRestore();
      }
    },
  );
});
