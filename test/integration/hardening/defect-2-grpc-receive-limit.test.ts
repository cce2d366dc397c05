import { connect } from "node:http2";
import { createGzip } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveConfig } from "../../../src/config.js";
import { tensor } from "../../../src/core/tensor-factory.js";
import { startServer } from "../../helpers/server.js";

// Defect 2: the gRPC receive limit defaulted to ~2 GiB against 64 MiB for HTTP, so a 2 MiB
// gzip-compressed ModelInfer inflating to just under 2 GiB took the server to 4.2 GiB RSS.
// Now one limit serves both protocols by default, checked while decompressing.

let address: string;
let close: () => Promise<void>;
beforeAll(async () => {
  const server = await startServer(
    [
      {
        name: "big",
        inputs: { X: tensor("UINT8", [-1]) },
        outputs: { Y: tensor("UINT8", [-1]) },
        fn: ({ X }) => ({ Y: X! }),
      },
    ],
    { grpc: 0 },
  );
  address = server.urls.grpc!;
  close = () => server.close();
});
afterAll(() => close());

/** A ModelInfer message: model "big", one raw input of `size` zero bytes (field 7), written to `out` in pieces. */
async function writeModelInfer(size: number, write: (b: Buffer) => Promise<void>): Promise<void> {
  const varint = (n: number) => {
    const out: number[] = [];
    while (n >= 0x80) {
      out.push((n % 0x80) | 0x80);
      n = Math.floor(n / 0x80);
    }
    out.push(n);
    return Buffer.from(out);
  };
  await write(Buffer.concat([Buffer.from([0x0a, 3]), Buffer.from("big"), Buffer.from([0x3a]), varint(size)]));
  const zeros = Buffer.alloc(1 << 20);
  for (let left = size; left > 0; left -= zeros.length)
    await write(zeros.subarray(0, Math.min(left, zeros.length)));
}

/** gzip of a ModelInfer inflating to `size`, built in pieces (the test never holds the inflated bytes). */
async function gzipBomb(size: number): Promise<Buffer> {
  const gz = createGzip({ level: 1 });
  const parts: Buffer[] = [];
  gz.on("data", (c: Buffer) => parts.push(c));
  const ended = new Promise((r) => gz.on("end", r));
  await writeModelInfer(size, (b) => new Promise((r) => (gz.write(b) ? r() : gz.once("drain", r))));
  gz.end();
  await ended;
  return Buffer.concat(parts);
}

/** Sends one gRPC frame (compressed flag, length, payload) and resolves with grpc-status and message. */
function call(frame: Buffer): Promise<{ status: number; message: string }> {
  return new Promise((resolve, reject) => {
    const session = connect(`http://${address}`);
    session.on("error", reject);
    const req = session.request({
      ":method": "POST",
      ":path": "/inference.GRPCInferenceService/ModelInfer",
      "content-type": "application/grpc",
      "grpc-encoding": "gzip",
      "grpc-accept-encoding": "gzip",
      te: "trailers",
    });
    let status = -1;
    let message = "";
    const take = (h: Record<string, unknown>) => {
      if (h["grpc-status"] !== undefined) status = Number(h["grpc-status"]);
      if (h["grpc-message"] !== undefined) message = decodeURIComponent(String(h["grpc-message"]));
    };
    req.on("response", take);
    req.on("trailers", take);
    req.on("data", () => {});
    req.on("error", () => {});
    req.on("close", () => {
      session.close();
      resolve({ status, message });
    });
    req.end(frame);
  });
}

const frameOf = (compressed: boolean, payload: Buffer, declared = payload.length) => {
  const head = Buffer.alloc(5);
  head.writeUInt8(compressed ? 1 : 0, 0);
  head.writeUInt32BE(declared, 1);
  return Buffer.concat([head, payload]);
};

describe("defect 2: the gRPC receive limit", () => {
  it("defaults to the HTTP body limit (64 MiB), and follows it", () => {
    expect(resolveConfig({}, {}).grpcMaxReceiveBytes).toBe(64 * 1024 * 1024);
    expect(resolveConfig({ maxBodyBytes: 1000 }, {}).grpcMaxReceiveBytes).toBe(1000);
    expect(resolveConfig({ maxBodyBytes: 1000, grpcMaxReceiveBytes: 5000 }, {}).grpcMaxReceiveBytes).toBe(
      5000,
    );
  });

  it("stops a gzip bomb while inflating: RESOURCE_EXHAUSTED, and peak memory near the limit", async () => {
    const bomb = await gzipBomb(768 << 20); // inflates to 768 MiB
    expect(bomb.length).toBeLessThan(4 << 20);
    const before = process.resourceUsage().maxRSS * 1024;
    const rssBefore = process.memoryUsage().rss;
    const r = await call(frameOf(true, bomb));
    const grown = process.resourceUsage().maxRSS * 1024 - Math.max(before, rssBefore);
    expect(r.status).toBe(8);
    expect(r.message).toMatch(/decompresses to a size larger than 67108864/);
    // Before the fix the whole 768 MiB was inflated (and concatenated: 1.5 GiB).
    expect(grown).toBeLessThan(400 << 20);
  }, 60_000);

  it("refuses a plain message declared larger than the limit before reading it", async () => {
    const r = await call(frameOf(false, Buffer.from([0x0a, 3, 0x62, 0x69, 0x67]), 1 << 30));
    expect(r.status).toBe(8);
    expect(r.message).toMatch(/larger than max/);
  });
});
