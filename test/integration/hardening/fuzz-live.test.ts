import { Client, credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tensor } from "../../../src/core/tensor-factory.js";
import { loadProtos } from "../../../src/frontends/grpc/load.js";
import { startServer } from "../../helpers/server.js";

// A bounded mutational fuzz run against a live server: valid HTTP JSON, HTTP binary and gRPC
// requests are mutated (bit flips, inserted tokens, cut and repeated ranges) and sent. No answer
// may be a server fault (500-502 / INTERNAL / UNKNOWN), and the server must stay healthy. A 504
// answers a request whose own `timeout` parameter (mutated to a few µs) ran out: that is allowed. About a minute in CI;
// FUZZ_SECONDS=600 (per protocol form) for a long run, FUZZ_SEED to replay one.

const SECONDS = Number(process.env.FUZZ_SECONDS ?? 15);
const SEED = Number(process.env.FUZZ_SEED ?? 20261207);
const CONCURRENCY = 4;

let http: string;
let grpcAddress: string;
let close: () => Promise<void>;
beforeAll(async () => {
  const server = await startServer(
    [
      {
        name: "m",
        maxBatchSize: 4,
        inputs: { A: tensor("INT32", [2]), B: tensor("BYTES", [-1], { optional: true }) },
        outputs: { Y: tensor("INT32", [2]), S: tensor("BYTES", [-1]) },
        fn: ({ A, B }) => ({ Y: A!, S: B ?? tensor.fromStrings([1, 1], ["none"]) }),
      },
    ],
    { grpc: 0, maxBodyBytes: 1 << 20 },
  );
  http = server.urls.http!;
  grpcAddress = server.urls.grpc!;
  close = () => server.close();
});
afterAll(() => close?.());

/** xorshift32: a seeded generator, so a failing run can be replayed with FUZZ_SEED. */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
  return { next, int: (n: number) => Math.floor(next() * n) };
}

const TOKENS = [
  "[",
  "]",
  "{",
  "}",
  '"',
  ",",
  ":",
  "-",
  "0",
  "1e400",
  "99999999999999999999",
  "null",
  "true",
  '"\\u0000"',
  "-1",
  "[[[[",
  "\xff",
  "NaN",
].map((t) => Buffer.from(t, "latin1"));

/** One to four mutations of `seed`. */
function mutate(seed: Buffer, r: ReturnType<typeof rng>): Buffer {
  let b = Buffer.from(seed);
  for (let k = 1 + r.int(4); k > 0; k--) {
    const at = r.int(b.length + 1);
    switch (r.int(6)) {
      case 0: // flip bits
        if (b.length > 0) b[Math.min(at, b.length - 1)]! ^= 1 << r.int(8);
        break;
      case 1: // insert a token
        b = Buffer.concat([b.subarray(0, at), TOKENS[r.int(TOKENS.length)]!, b.subarray(at)]);
        break;
      case 2: // cut a range
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + r.int(16))]);
        break;
      case 3: // repeat a range
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + r.int(32)), b.subarray(at)]);
        break;
      case 4: // truncate
        b = b.subarray(0, at);
        break;
      default: // random byte
        if (b.length > 0) b[Math.min(at, b.length - 1)] = r.int(256);
    }
  }
  return b;
}

const jsonSeed = Buffer.from(
  JSON.stringify({
    id: "x",
    parameters: { timeout: 10_000_000 },
    inputs: [
      { name: "A", shape: [1, 2], datatype: "INT32", data: [1, 2] },
      { name: "B", shape: [1, 1], datatype: "BYTES", data: ["hi"] },
    ],
    outputs: [{ name: "Y" }, { name: "S", parameters: { binary_data: true } }],
  }),
);
const binHeader = Buffer.from(
  JSON.stringify({
    inputs: [{ name: "A", shape: [1, 2], datatype: "INT32", parameters: { binary_data_size: 8 } }],
  }),
);
const binSeed = Buffer.concat([binHeader, Buffer.from(new Int32Array([1, 2]).buffer)]);
const grpcType = loadProtos().inference.ModelInfer!;
const grpcSeed = grpcType.requestSerialize({
  model_name: "m",
  id: "x",
  inputs: [
    { name: "A", datatype: "INT32", shape: [1, 2] },
    { name: "B", datatype: "BYTES", shape: [1, 1] },
  ],
  raw_input_contents: [Buffer.from(new Int32Array([1, 2]).buffer), Buffer.from([2, 0, 0, 0, 104, 105])],
});

/** Runs `one` with CONCURRENCY in flight until the time is up; resolves with the count. */
async function run(one: (i: number) => Promise<void>): Promise<number> {
  const end = performance.now() + SECONDS * 1000;
  let i = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) await one(i++);
    }),
  );
  return i;
}

async function expectHealthy(): Promise<void> {
  expect((await fetch(`${http}/v2/health/ready`)).status).toBe(200);
}

/** 5xx other than 503 (overload) and 504 (the request's own timeout ran out). */
const serverFault = (status: number) => status >= 500 && status !== 503 && status !== 504;

const counts: Record<string, number> = {};
afterAll(() => console.log(`fuzz-live counts (seed ${SEED}, ${SECONDS} s each): ${JSON.stringify(counts)}`));

describe("mutational fuzzing against a live server", () => {
  it("HTTP JSON bodies: never a server fault", async () => {
    const r = rng(SEED);
    const statuses = new Map<number, number>();
    counts.httpJson = await run(async () => {
      const body = mutate(jsonSeed, r);
      const res = await fetch(`${http}/v2/models/m/infer`, { method: "POST", body });
      await res.arrayBuffer();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (serverFault(res.status)) throw new Error(`${res.status} for ${body.toString("base64")}`);
    });
    expect([...statuses.keys()].some(serverFault)).toBe(false);
    await expectHealthy();
  }, 120_000);

  it("HTTP binary bodies (and their header length): never a server fault", async () => {
    const r = rng(SEED + 1);
    counts.httpBinary = await run(async () => {
      const body = mutate(binSeed, r);
      const headerLength = r.next() < 0.8 ? String(binHeader.length) : String(r.int(body.length + 10) - 2);
      const res = await fetch(`${http}/v2/models/m/infer`, {
        method: "POST",
        headers: { "Inference-Header-Content-Length": headerLength },
        body,
      });
      await res.arrayBuffer();
      if (serverFault(res.status))
        throw new Error(`${res.status} for ${headerLength} ${body.toString("base64")}`);
    });
    await expectHealthy();
  }, 120_000);

  it("gRPC ModelInfer bytes: never INTERNAL or UNKNOWN", async () => {
    const r = rng(SEED + 2);
    const raw = new Client(grpcAddress, credentials.createInsecure());
    const codes = new Map<number, number>();
    try {
      counts.grpc = await run(async () => {
        const bytes = mutate(grpcSeed, r);
        const err = await new Promise<ServiceError | null>((resolve) =>
          raw.makeUnaryRequest(
            "/inference.GRPCInferenceService/ModelInfer",
            (b: Buffer) => b,
            (b: Buffer) => b,
            bytes,
            new Metadata(),
            (e) => resolve(e),
          ),
        );
        const code = err?.code ?? 0;
        codes.set(code, (codes.get(code) ?? 0) + 1);
        if (code === 13 || code === 2)
          throw new Error(`code ${code} (${err?.details}) for ${bytes.toString("base64")}`);
      });
    } finally {
      raw.close();
    }
    expect(codes.has(13) || codes.has(2)).toBe(false);
    await expectHealthy();
  }, 120_000);
});
