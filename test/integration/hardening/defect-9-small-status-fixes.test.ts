import { connect } from "node:net";
import { Client, credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tensor } from "../../../src/core/tensor-factory.js";
import { startServer } from "../../helpers/server.js";

// Defect 9: undecodable protobuf was INTERNAL (not INVALID_ARGUMENT); an unsupported
// Content-Encoding was 501 (not 415); a chunked body over the limit ended in a TCP reset for a
// client still sending (not a 413 it can read); FP32/FP64 JSON values that overflow (1e400)
// were accepted as infinity; BYTES that are not UTF-8 were returned in JSON with U+FFFD.

const LIMIT = 1024 * 1024;
let base: string;
let grpcAddress: string;
let close: () => Promise<void>;
beforeAll(async () => {
  const server = await startServer(
    [
      {
        name: "f",
        inputs: { F32: tensor("FP32", [-1]), F64: tensor("FP64", [-1]) },
        outputs: { F32: tensor("FP32", [-1]) },
        fn: ({ F32 }) => ({ F32: F32! }),
      },
      {
        name: "bytes",
        inputs: { B: tensor("BYTES", [-1]) },
        outputs: { B: tensor("BYTES", [-1]) },
        fn: ({ B }) => ({ B: B! }),
      },
      {
        name: "big",
        inputs: { X: tensor("UINT8", [-1]) },
        outputs: { Y: tensor("UINT8", [-1]) },
        fn: ({ X }) => ({ Y: X! }),
      },
    ],
    { grpc: 0, maxBodyBytes: LIMIT },
  );
  base = server.urls.http!;
  grpcAddress = server.urls.grpc!;
  close = () => server.close();
});
afterAll(() => close());

const floats = (f32: string, f64: string) =>
  `{"inputs":[{"name":"F32","shape":[1],"datatype":"FP32","data":[${f32}]},{"name":"F64","shape":[1],"datatype":"FP64","data":[${f64}]}]}`;

function rawUnary(method: string, bytes: Buffer): Promise<ServiceError | null> {
  const client = new Client(grpcAddress, credentials.createInsecure());
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      `/inference.GRPCInferenceService/${method}`,
      (b: Buffer) => b,
      (b: Buffer) => b,
      bytes,
      new Metadata(),
      (err) => {
        client.close();
        resolve(err);
      },
    );
  });
}

describe("defect 9: small status fixes", () => {
  it("answers INVALID_ARGUMENT for an undecodable protobuf message", async () => {
    for (const method of ["ModelInfer", "ModelMetadata", "ServerLive"]) {
      // field 1, length-delimited, length 2^35: runs past the end of the message
      for (const bytes of [[0x0f], [0x08, 0xff]]) {
        // wire type 7 (none such); a varint cut off at the end of the message
        const err = await rawUnary(method, Buffer.from(bytes));
        expect(err?.code, method).toBe(3);
        expect(err?.details).toMatch(/not a valid .* message/);
      }
    }
  });

  it("answers 415 for an unsupported Content-Encoding", async () => {
    const res = await fetch(`${base}/v2/models/f/infer`, {
      method: "POST",
      headers: { "Content-Encoding": "br" },
      body: "{}",
    });
    expect(res.status).toBe(415);
    expect(((await res.json()) as { error: string }).error).toMatch(/Content-Encoding 'br'.*gzip/);
  });

  it("answers a chunked body over the limit with a 413 the client can read after sending it all", async () => {
    const { hostname, port } = new URL(base);
    const response = await new Promise<string>((resolve, reject) => {
      const s = connect(Number(port), hostname);
      let text = "";
      let writeError: Error | undefined;
      s.on("data", (d) => (text += d.toString("latin1")));
      s.on("error", (e) => {
        writeError = e;
      });
      // A reset while the client still sends is the defect: a client that reads after sending never sees the 413.
      s.on("close", () => (writeError ? reject(writeError) : resolve(text)));
      s.on("connect", async () => {
        s.write(
          "POST /v2/models/big/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nInference-Header-Content-Length: 0\r\n\r\n",
        );
        const chunk = `${(64 * 1024).toString(16)}\r\n${"x".repeat(64 * 1024)}\r\n`;
        // 24 MiB (more than the kernel buffers hold), so the server answers while the client still sends
        for (let i = 0; i < 384 && !s.destroyed; i++) {
          if (!s.write(chunk)) await new Promise((r) => s.once("drain", r));
          if (i % 64 === 0) await new Promise((r) => setTimeout(r, 20));
        }
        if (!s.destroyed) s.end("0\r\n\r\n");
      });
    });
    expect(response).toMatch(/^HTTP\/1\.1 413/);
    expect(response).toMatch(/exceeds the limit/);
    expect((await fetch(`${base}/v2/health/ready`)).status).toBe(200);
  });

  for (const [name, f32, f64] of [
    ["FP64 1e400", "1", "1e400"],
    ["FP64 -1e400", "1", "-1e400"],
    ["FP32 1e400", "1e400", "1"],
    ["FP32 1e39 (beyond float32)", "1e39", "1"],
  ] as const) {
    it(`answers 400 for a float that overflows its type: ${name}`, async () => {
      const res = await fetch(`${base}/v2/models/f/infer`, { method: "POST", body: floats(f32, f64) });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toMatch(/out of range for FP(32|64)/);
    });
  }

  it("still accepts the largest finite values", async () => {
    const res = await fetch(`${base}/v2/models/f/infer`, {
      method: "POST",
      body: floats("3.4028234663852886e38", "1.7976931348623157e308"),
    });
    expect(res.status).toBe(200);
  });

  it("does not return BYTES that are not UTF-8 as JSON text with replacement characters", async () => {
    const element = Buffer.from([0xff, 0xfe, 0x41]);
    const bin = Buffer.concat([Buffer.from([element.length, 0, 0, 0]), element]);
    const header = JSON.stringify({
      inputs: [{ name: "B", shape: [1], datatype: "BYTES", parameters: { binary_data_size: bin.length } }],
      outputs: [{ name: "B", parameters: { binary_data: false } }],
    });
    const res = await fetch(`${base}/v2/models/bytes/infer`, {
      method: "POST",
      headers: { "Inference-Header-Content-Length": String(header.length) },
      body: Buffer.concat([Buffer.from(header), bin]),
    });
    const text = await res.text();
    expect(text).not.toContain("\uFFFD");
    expect(res.status).toBe(400);
    expect(text).toMatch(/not valid UTF-8.*binary_data/);
    // Asked for in binary form, the same bytes come back intact.
    const header2 = JSON.stringify({
      inputs: [{ name: "B", shape: [1], datatype: "BYTES", parameters: { binary_data_size: bin.length } }],
      outputs: [{ name: "B", parameters: { binary_data: true } }],
    });
    const res2 = await fetch(`${base}/v2/models/bytes/infer`, {
      method: "POST",
      headers: { "Inference-Header-Content-Length": String(header2.length) },
      body: Buffer.concat([Buffer.from(header2), bin]),
    });
    expect(res2.status).toBe(200);
    const all = Buffer.from(await res2.arrayBuffer());
    expect(all.subarray(all.length - bin.length)).toEqual(bin);
  });
});
