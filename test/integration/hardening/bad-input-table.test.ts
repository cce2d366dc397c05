import { gzipSync } from "node:zlib";
import { Client, credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tensor } from "../../../src/core/tensor-factory.js";
import { type InferenceClient, inferenceClient } from "../../helpers/grpc.js";
import { startServer } from "../../helpers/server.js";

// The bad-input table of docs/RELIABILITY.md: one row per case, the same case over HTTP and
// gRPC where both can express it, each with its exact status; after every row the server must
// still answer health checks on both protocols.

const LIMIT = 1 << 20;
let http: string;
let client: InferenceClient;
let grpcAddress: string;
let close: () => Promise<void>;
beforeAll(async () => {
  const server = await startServer(
    [
      {
        name: "m",
        inputs: { A: tensor("INT32", [2]), B: tensor("BYTES", [-1], { optional: true }) },
        outputs: { Y: tensor("INT32", [2]) },
        fn: ({ A }) => ({ Y: A! }),
      },
      {
        name: "big",
        inputs: { X: tensor("UINT8", [-1]) },
        outputs: { Y: tensor("UINT8", [-1]) },
        fn: ({ X }) => ({ Y: X! }),
      },
    ],
    { grpc: 0, maxBodyBytes: LIMIT, maxJsonBytes: LIMIT / 2 },
  );
  http = server.urls.http!;
  grpcAddress = server.urls.grpc!;
  client = inferenceClient(grpcAddress);
  close = () => server.close();
});
afterAll(async () => {
  client?.close();
  await close?.();
});

interface In {
  name: string;
  datatype: string;
  shape: number[];
  data: unknown[];
}
interface Case {
  model?: string;
  version?: string;
  inputs?: In[];
  outputs?: string[];
  parameters?: Record<string, string | number | boolean>;
}
const A: In = { name: "A", datatype: "INT32", shape: [2], data: [1, 2] };
const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${i}`, i]));

/** Cases both protocols can express: [name, case, HTTP status, gRPC code]. */
const BOTH: [string, Case, number, number][] = [
  ["unknown model", { model: "nope", inputs: [A] }, 404, 5],
  ["unknown version", { version: "9", inputs: [A] }, 404, 5],
  ["non-numeric version", { version: "x", inputs: [A] }, 404, 5],
  ["model name with a path", { model: "..%2F..%2Fetc", inputs: [A] }, 404, 5],
  ["unknown input", { inputs: [A, { ...A, name: "Z" }] }, 400, 3],
  ["duplicate input", { inputs: [A, A] }, 400, 3],
  ["missing required input", { inputs: [] }, 400, 3],
  ["empty input name", { inputs: [{ ...A, name: "" }] }, 400, 3],
  ["datatype mismatch", { inputs: [{ ...A, datatype: "INT64" }] }, 400, 3],
  ["unknown datatype", { inputs: [{ ...A, datatype: "INT33" }] }, 400, 3],
  ["negative dim", { inputs: [{ ...A, shape: [-2] }] }, 400, 3],
  ["wrong dims", { inputs: [{ ...A, shape: [3], data: [1, 2, 3] }] }, 400, 3],
  ["too many dims", { inputs: [{ ...A, shape: [1, 1, 1, 1, 2] }] }, 400, 3],
  ["empty shape", { inputs: [{ ...A, shape: [], data: [1] }] }, 400, 3],
  ["zero dim", { inputs: [{ ...A, shape: [0], data: [] }] }, 400, 3],
  ["too few elements", { inputs: [{ ...A, data: [1] }] }, 400, 3],
  ["too many elements", { inputs: [{ ...A, data: [1, 2, 3, 4] }] }, 400, 3],
  ["dims overflowing 2^53", { inputs: [{ ...A, shape: [2 ** 30, 2 ** 30, 2 ** 30] }] }, 400, 3],
  ["dims overflowing 2^64", { inputs: [{ ...A, shape: [2 ** 40, 2 ** 40] }] }, 400, 3],
  [
    "dims overflowing on the byte size",
    { model: "big", inputs: [{ name: "X", datatype: "UINT8", shape: [2 ** 52], data: [1] }] },
    400,
    3,
  ],
  ["FP16 values typed out", { inputs: [{ ...A, datatype: "FP16" }] }, 400, 3],
  ["BF16 values typed out", { inputs: [{ ...A, datatype: "BF16" }] }, 400, 3],
  [
    "wrong datatype for the big model",
    { model: "big", inputs: [{ name: "X", datatype: "FP32", shape: [1], data: [1] }] },
    400,
    3,
  ],
  ["unknown requested output", { inputs: [A], outputs: ["Q"] }, 400, 3],
  ["duplicate requested output", { inputs: [A], outputs: ["Y", "Y"] }, 400, 3],
  ["too many outputs", { inputs: [A], outputs: Array.from({ length: 2000 }, (_, i) => `O${i}`) }, 413, 8],
  ["too many inputs", { inputs: Array.from({ length: 2000 }, (_, i) => ({ ...A, name: `I${i}` })) }, 413, 8],
  ["too many parameters", { inputs: [A], parameters: many(300) }, 413, 8],
  ["timeout parameter of a wrong type", { inputs: [A], parameters: { timeout: "soon" } }, 400, 3],
  ["negative timeout parameter", { inputs: [A], parameters: { timeout: -5 } }, 400, 3],
  ["sequence parameters", { inputs: [A], parameters: { sequence_id: 5 } }, 400, 3],
  [
    "BYTES input of the wrong rank",
    { inputs: [A, { name: "B", datatype: "BYTES", shape: [1, 1], data: ["x"] }] },
    400,
    3,
  ],
];

function httpBody(c: Case): string {
  return JSON.stringify({
    inputs: c.inputs,
    ...(c.outputs && { outputs: c.outputs.map((name) => ({ name })) }),
    ...(c.parameters && { parameters: c.parameters }),
  });
}

const CONTENTS: Record<string, string> = {
  INT32: "int_contents",
  INT64: "int64_contents",
  UINT8: "uint_contents",
  FP32: "fp32_contents",
  FP64: "fp64_contents",
  BOOL: "bool_contents",
  BYTES: "bytes_contents",
};

function grpcMessage(c: Case) {
  return {
    model_name: decodeURIComponent(c.model ?? "m"),
    model_version: c.version ?? "",
    inputs: (c.inputs ?? []).map((i) => ({
      name: i.name,
      datatype: i.datatype,
      shape: i.shape,
      contents: {
        [CONTENTS[i.datatype] ?? "int_contents"]:
          i.datatype === "BYTES" ? i.data.map((d) => Buffer.from(String(d))) : i.data,
      },
    })),
    outputs: (c.outputs ?? []).map((name) => ({ name })),
    parameters: Object.fromEntries(
      Object.entries(c.parameters ?? {}).map(([k, v]) => [
        k,
        typeof v === "string"
          ? { string_param: v }
          : typeof v === "boolean"
            ? { bool_param: v }
            : { int64_param: v },
      ]),
    ),
  };
}

async function healthy(): Promise<void> {
  expect((await fetch(`${http}/v2/health/ready`)).status).toBe(200);
  expect(await client.call("ServerReady", {})).toEqual({ ready: true });
}

const path = (c: Case) =>
  `/v2/models/${c.model ?? "m"}${c.version !== undefined ? `/versions/${c.version}` : ""}/infer`;

describe("bad input over HTTP and gRPC: exact statuses, and the server keeps serving", () => {
  for (const [name, c, status] of BOTH) {
    it(`HTTP ${status}: ${name}`, async () => {
      const res = await fetch(`${http}${path(c)}`, { method: "POST", body: httpBody(c) });
      expect(res.status).toBe(status);
      expect(((await res.json()) as { error: string }).error.length).toBeGreaterThan(0);
      await healthy();
    });
  }
  for (const [name, c, , code] of BOTH) {
    it(`gRPC ${code}: ${name}`, async () => {
      const err = (await client
        .call("ModelInfer", grpcMessage(c))
        .catch((e: ServiceError) => e)) as ServiceError;
      expect(err.code).toBe(code);
      expect(err.details.length).toBeGreaterThan(0);
      await healthy();
    });
  }
});

const deep = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;
const bin = Buffer.from(new Int32Array([1, 2]).buffer);
const withHeader = (header: unknown, body: Buffer, headerLength?: string) => {
  const head = Buffer.from(JSON.stringify(header));
  return {
    body: Buffer.concat([head, body]),
    headers: { "Inference-Header-Content-Length": headerLength ?? String(head.length) },
  };
};
const binA = { name: "A", datatype: "INT32", shape: [2], parameters: { binary_data_size: 8 } };

/** Cases only HTTP can express: [name, request, status]. */
const HTTP_ONLY: [
  string,
  { path?: string; body: string | Buffer; headers?: Record<string, string> },
  number,
][] = [
  ["malformed JSON", { body: "{not json" }, 400],
  ["empty body", { body: "" }, 400],
  ["a JSON array body", { body: "[1,2]" }, 400],
  ["a JSON string body", { body: '"x"' }, 400],
  ["inputs not an array", { body: '{"inputs":{}}' }, 400],
  [
    "JSON nested 100 000 deep",
    { body: `{"inputs":[{"name":"A","shape":[2],"datatype":"INT32","data":${deep}}]}` },
    400,
  ],
  [
    "shape nested 100 000 deep",
    { body: `{"inputs":[{"name":"A","shape":${deep},"datatype":"INT32","data":[1,2]}]}` },
    400,
  ],
  [
    "big integer in a shape element",
    { body: '{"inputs":[{"name":"A","shape":[[12345678901234567890]],"datatype":"INT32","data":[1,2]}]}' },
    400,
  ],
  [
    "a dim beyond 2^64",
    { body: '{"inputs":[{"name":"A","shape":[18446744073709551617],"datatype":"INT32","data":[1,2]}]}' },
    400,
  ],
  ["value out of range for INT32", { body: httpBody({ inputs: [{ ...A, data: [1, 2 ** 31] }] }) }, 400],
  ["string in an INT32 tensor", { body: httpBody({ inputs: [{ ...A, data: [1, "2"] }] }) }, 400],
  ["id not a string", { body: JSON.stringify({ id: 5, inputs: [A] }) }, 400],
  ["parameters an array", { body: JSON.stringify({ parameters: [1], inputs: [A] }) }, 400],
  [
    "binary_data_output not a boolean",
    { body: JSON.stringify({ parameters: { binary_data_output: "y" }, inputs: [A] }) },
    400,
  ],
  ["data and binary_data_size both", withHeader({ inputs: [{ ...binA, data: [1, 2] }] }, bin), 400],
  [
    "binary_data_size past the body",
    withHeader({ inputs: [{ ...binA, parameters: { binary_data_size: 800 } }] }, bin),
    400,
  ],
  [
    "negative binary_data_size",
    withHeader({ inputs: [{ ...binA, parameters: { binary_data_size: -8 } }] }, bin),
    400,
  ],
  [
    "binary bytes beyond the inputs",
    withHeader({ inputs: [{ ...binA, parameters: { binary_data_size: 4 } }] }, bin),
    400,
  ],
  ["header length larger than the body", withHeader({ inputs: [A] }, Buffer.alloc(0), "5000"), 400],
  ["negative header length", withHeader({ inputs: [A] }, Buffer.alloc(0), "-5"), 400],
  ["non-numeric header length", withHeader({ inputs: [A] }, Buffer.alloc(0), "ten"), 400],
  ["raw body for a two-input model", { body: bin, headers: { "Inference-Header-Content-Length": "0" } }, 400],
  [
    "FP64 value 1e400",
    {
      path: "/v2/models/m/infer",
      body: '{"inputs":[{"name":"A","shape":[2],"datatype":"FP64","data":[1,1e400]}]}',
    },
    400,
  ],
  [
    "body over the limit",
    {
      path: "/v2/models/big/infer",
      body: Buffer.alloc(LIMIT + 1),
      headers: { "Inference-Header-Content-Length": "0" },
    },
    413,
  ],
  ["JSON body over the JSON limit", { body: `{"inputs":[],"pad":"${"x".repeat(LIMIT / 2)}"}` }, 413],
  [
    "gzip bomb",
    {
      path: "/v2/models/big/infer",
      body: gzipSync(Buffer.alloc(50 * LIMIT)),
      headers: { "Content-Encoding": "gzip", "Inference-Header-Content-Length": "0" },
    },
    413,
  ],
  ["corrupt gzip", { body: Buffer.from("not gzip"), headers: { "Content-Encoding": "gzip" } }, 400],
  ["unsupported Content-Encoding", { body: "{}", headers: { "Content-Encoding": "br" } }, 415],
  [
    "browser form post",
    {
      body: httpBody({ inputs: [A] }),
      headers: { "Content-Type": "text/plain", Origin: "https://evil.example" },
    },
    415,
  ],
  ["GET on the infer route", { body: "" }, 405],
  ["unknown route", { path: "/v2/models/m/nothing", body: "{}" }, 404],
];

describe("bad input only HTTP can send", () => {
  for (const [name, req, status] of HTTP_ONLY) {
    it(`HTTP ${status}: ${name}`, async () => {
      const res = await fetch(`${http}${req.path ?? "/v2/models/m/infer"}`, {
        method: name.startsWith("GET") ? "GET" : "POST",
        headers: req.headers ?? {},
        ...(name.startsWith("GET") ? {} : { body: req.body }),
      });
      expect(res.status).toBe(status);
      expect(res.headers.get("content-type")).toBe("application/json");
      await healthy();
    });
  }
});

function rawCall(method: string, bytes: Buffer): Promise<ServiceError | null> {
  const raw = new Client(grpcAddress, credentials.createInsecure());
  return new Promise((resolve) =>
    raw.makeUnaryRequest(
      `/inference.GRPCInferenceService/${method}`,
      (b: Buffer) => b,
      (b: Buffer) => b,
      bytes,
      new Metadata(),
      (err) => {
        raw.close();
        resolve(err);
      },
    ),
  );
}

/** Cases only gRPC can express: [name, call, code]. */
const GRPC_ONLY: [string, () => Promise<ServiceError | null>, number][] = [
  ["undecodable protobuf", () => rawCall("ModelInfer", Buffer.from([0x0f])), 3],
  ["truncated protobuf", () => rawCall("ModelInfer", Buffer.from([0x08, 0xff])), 3],
  ["undecodable metadata request", () => rawCall("ModelMetadata", Buffer.from([0x0f])), 3],
  ["message over the limit", () => rawCall("ModelInfer", Buffer.alloc(LIMIT + 16, 0)), 8],
  ...(
    [
      [
        "raw count not matching the inputs",
        {
          model_name: "m",
          inputs: [{ name: "A", datatype: "INT32", shape: [2] }],
          raw_input_contents: [bin, bin],
        },
        3,
      ],
      [
        "raw size not matching the shape",
        {
          model_name: "m",
          inputs: [{ name: "A", datatype: "INT32", shape: [2] }],
          raw_input_contents: [bin.subarray(0, 4)],
        },
        3,
      ],
      [
        "raw and typed contents mixed",
        {
          model_name: "m",
          inputs: [
            { name: "A", datatype: "INT32", shape: [2], contents: { int_contents: [1, 2] } },
            { name: "B", datatype: "BYTES", shape: [1] },
          ],
          raw_input_contents: [bin, bin],
        },
        3,
      ],
      [
        "typed contents of the wrong kind",
        {
          model_name: "m",
          inputs: [{ name: "A", datatype: "INT32", shape: [2], contents: { fp32_contents: [1, 2] } }],
        },
        3,
      ],
      [
        "a parameter with no value",
        {
          model_name: "m",
          inputs: [{ name: "A", datatype: "INT32", shape: [2], contents: { int_contents: [1, 2] } }],
          parameters: { x: {} },
        },
        3,
      ],
    ] as [string, unknown, number][]
  ).map(
    ([n, msg, code]) =>
      [
        n,
        () =>
          client.call("ModelInfer", msg).then(
            () => null,
            (e: ServiceError) => e,
          ),
        code,
      ] as [string, () => Promise<ServiceError | null>, number],
  ),
  [
    "an RPC tensorbind does not implement",
    () =>
      client.call("TraceSetting", {}).then(
        () => null,
        (e: ServiceError) => e,
      ),
    12,
  ],
];

describe("bad input only gRPC can send", () => {
  for (const [name, call, code] of GRPC_ONLY) {
    it(`gRPC ${code}: ${name}`, async () => {
      const err = await call();
      expect(err?.code).toBe(code);
      await healthy();
    });
  }

  it("has at least 80 rows in all", () => {
    expect(2 * BOTH.length + HTTP_ONLY.length + GRPC_ONLY.length).toBeGreaterThanOrEqual(80);
  });
});
