import { deflateSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tensor } from "../../src/core/tensor-factory.js";
import { rawRequest } from "../helpers/raw-http.js";
import { startServer } from "../helpers/server.js";

// One row per bad input from the reliability notes: each gets a clear 4xx and the server keeps serving.

const LIMIT = 1024 * 1024;
let base: string;
let close: () => Promise<void>;

beforeAll(async () => {
  const server = await startServer(
    [
      {
        name: "m",
        maxBatchSize: 4,
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
    { maxBodyBytes: LIMIT, requestTimeoutMs: 1500 },
  );
  base = server.urls.http!;
  close = () => server.close();
});
afterAll(() => close());

const A = { name: "A", shape: [1, 2], datatype: "INT32", data: [1, 2] };
const header = (body: unknown) => JSON.stringify(body);

interface Row {
  name: string;
  path?: string;
  body: string | Buffer;
  headers?: Record<string, string>;
  status: number;
  error: RegExp;
}

const deep = `{"inputs":[{"name":"A","shape":[1,2],"datatype":"INT32","data":${"[".repeat(100000)}${"]".repeat(100000)}}]}`;
const binA = Buffer.from(new Int32Array([1, 2]).buffer);
const withBinary = (h: unknown, bin: Buffer, headerLength?: string): Pick<Row, "body" | "headers"> => {
  const head = Buffer.from(JSON.stringify(h));
  return {
    body: Buffer.concat([head, bin]),
    headers: { "Inference-Header-Content-Length": headerLength ?? String(head.length) },
  };
};
const badBytes = Buffer.concat([Buffer.from([200, 0, 0, 0]), Buffer.from("abc")]);

const rows: Row[] = [
  { name: "malformed JSON", body: "{not json", status: 400, error: /malformed JSON/ },
  { name: "JSON nested 100000 deep", body: deep, status: 400, error: /nested deeper|malformed/ },
  { name: "a JSON array body", body: "[1,2]", status: 400, error: /JSON object/ },
  { name: "inputs not an array", body: header({ inputs: {} }), status: 400, error: /'inputs' array/ },
  {
    name: "input name not a string",
    body: header({ inputs: [{ ...A, name: 5 }] }),
    status: 400,
    error: /'name'/,
  },
  {
    name: "unknown datatype",
    body: header({ inputs: [{ ...A, datatype: "INT33" }] }),
    status: 400,
    error: /unknown datatype/,
  },
  {
    name: "shape not an array",
    body: header({ inputs: [{ ...A, shape: "1,2" }] }),
    status: 400,
    error: /'shape' must be an array/,
  },
  {
    name: "parameters an array",
    body: header({ parameters: [1], inputs: [A] }),
    status: 400,
    error: /'parameters' must be an object/,
  },
  {
    name: "parameter of a wrong type",
    body: header({ parameters: { x: [1] }, inputs: [A] }),
    status: 400,
    error: /parameter 'x'/,
  },
  {
    name: "id not a string",
    body: header({ id: 5, inputs: [A] }),
    status: 400,
    error: /'id' must be a string/,
  },
  {
    name: "outputs not an array",
    body: header({ inputs: [A], outputs: {} }),
    status: 400,
    error: /'outputs' must be an array/,
  },
  {
    name: "unknown model",
    path: "/v2/models/nope/infer",
    body: header({ inputs: [A] }),
    status: 404,
    error: /unknown model: 'nope'/,
  },
  {
    name: "unknown version",
    path: "/v2/models/m/versions/9/infer",
    body: header({ inputs: [A] }),
    status: 404,
    error: /unknown model/,
  },
  {
    name: "non-numeric version",
    path: "/v2/models/m/versions/x/infer",
    body: header({ inputs: [A] }),
    status: 404,
    error: /unknown model/,
  },
  {
    name: "unknown input",
    body: header({ inputs: [A, { ...A, name: "Z" }] }),
    status: 400,
    error: /unexpected inference input 'Z'/,
  },
  {
    name: "duplicate input",
    body: header({ inputs: [A, A] }),
    status: 400,
    error: /duplicate inference input 'A'/,
  },
  { name: "missing required input", body: header({ inputs: [] }), status: 400, error: /expected input 'A'/ },
  {
    name: "datatype mismatch",
    body: header({ inputs: [{ ...A, datatype: "INT64" }] }),
    status: 400,
    error: /expects 'INT32'/,
  },
  {
    name: "FP16 in JSON",
    path: "/v2/models/m/infer",
    body: header({ inputs: [{ ...A, datatype: "FP16" }] }),
    status: 400,
    error: /binary form/,
  },
  {
    name: "negative dim",
    body: header({ inputs: [{ ...A, shape: [-1, 2] }] }),
    status: 400,
    error: /invalid dimension/,
  },
  {
    name: "wrong non-batch dims",
    body: header({ inputs: [{ ...A, shape: [1, 3], data: [1, 2, 3] }] }),
    status: 400,
    error: /unexpected shape/,
  },
  {
    name: "zero batch",
    body: header({ inputs: [{ ...A, shape: [0, 2], data: [] }] }),
    status: 400,
    error: /batch-size/,
  },
  {
    name: "batch over max_batch_size",
    body: header({ inputs: [{ ...A, shape: [5, 2], data: Array(10).fill(0) }] }),
    status: 400,
    error: /batch-size must be <= 4/,
  },
  {
    name: "dims overflowing 2^53",
    body: header({ inputs: [{ ...A, shape: [2 ** 30, 2 ** 30, 2 ** 30] }] }),
    status: 400,
    error: /too large/,
  },
  {
    name: "dims overflowing 2^64",
    body: header({ inputs: [{ ...A, shape: [2 ** 40, 2 ** 40] }] }),
    status: 400,
    error: /too large/,
  },
  {
    name: "a dim beyond 2^53",
    body: `{"inputs":[{"name":"A","shape":[18446744073709551617,2],"datatype":"INT32","data":[1,2]}]}`,
    status: 400,
    error: /invalid dimension/,
  },
  {
    name: "too few elements",
    body: header({ inputs: [{ ...A, data: [1] }] }),
    status: 400,
    error: /number of elements/,
  },
  {
    name: "too many elements (huge array)",
    body: header({ inputs: [{ ...A, data: Array(100000).fill(1) }] }),
    status: 400,
    error: /number of elements/,
  },
  {
    name: "value out of range",
    body: header({ inputs: [{ ...A, data: [1, 2 ** 31] }] }),
    status: 400,
    error: /out of range/,
  },
  {
    name: "string in an INT32 tensor",
    body: header({ inputs: [{ ...A, data: [1, "2"] }] }),
    status: 400,
    error: /must be integers/,
  },
  {
    name: "data and binary_data_size both",
    ...withBinary({ inputs: [{ ...A, parameters: { binary_data_size: 8 } }] }, binA),
    status: 400,
    error: /both 'data'/,
  },
  {
    name: "binary_data_size past the body",
    ...withBinary(
      { inputs: [{ name: "A", shape: [1, 2], datatype: "INT32", parameters: { binary_data_size: 800 } }] },
      binA,
    ),
    status: 400,
    error: /runs past the end/,
  },
  {
    name: "binary_data_size not matching the shape",
    ...withBinary(
      { inputs: [{ name: "A", shape: [1, 2], datatype: "INT32", parameters: { binary_data_size: 4 } }] },
      binA.subarray(0, 4),
    ),
    status: 400,
    error: /unexpected byte size/,
  },
  {
    name: "binary bytes beyond the inputs",
    ...withBinary(
      { inputs: [{ name: "A", shape: [1, 2], datatype: "INT32", parameters: { binary_data_size: 4 } }] },
      binA,
    ),
    status: 400,
    error: /beyond the header/,
  },
  {
    name: "negative binary_data_size",
    ...withBinary(
      { inputs: [{ name: "A", shape: [1, 2], datatype: "INT32", parameters: { binary_data_size: -8 } }] },
      binA,
    ),
    status: 400,
    error: /non-negative/,
  },
  {
    name: "BYTES length prefix past the buffer",
    ...withBinary(
      {
        inputs: [
          A,
          { name: "B", shape: [1, 1], datatype: "BYTES", parameters: { binary_data_size: badBytes.length } },
        ],
      },
      badBytes,
    ),
    status: 400,
    error: /runs past the end/,
  },
  {
    name: "header length larger than the body",
    ...withBinary({ inputs: [A] }, Buffer.alloc(0), "5000"),
    status: 400,
    error: /larger than the request body/,
  },
  {
    name: "negative header length",
    ...withBinary({ inputs: [A] }, Buffer.alloc(0), "-5"),
    status: 400,
    error: /invalid Inference-Header-Content-Length/,
  },
  {
    name: "non-numeric header length",
    ...withBinary({ inputs: [A] }, Buffer.alloc(0), "ten"),
    status: 400,
    error: /invalid Inference-Header-Content-Length/,
  },
  {
    name: "absurd header length",
    ...withBinary({ inputs: [A] }, Buffer.alloc(0), "99999999999"),
    status: 400,
    error: /larger than the request body/,
  },
  {
    name: "raw body for a two-input model",
    body: binA,
    headers: { "Inference-Header-Content-Length": "0" },
    status: 400,
    error: /single-input/,
  },
  {
    name: "unknown requested output",
    body: header({ inputs: [A], outputs: [{ name: "Q" }] }),
    status: 400,
    error: /unexpected inference output 'Q'/,
  },
  {
    name: "duplicate requested output",
    body: header({ inputs: [A], outputs: [{ name: "Y" }, { name: "Y" }] }),
    status: 400,
    error: /duplicate inference output/,
  },
  {
    name: "many requested outputs",
    body: header({ inputs: [A], outputs: Array.from({ length: 5000 }, (_, i) => ({ name: `O${i}` })) }),
    status: 413,
    error: /5000 outputs; the limit is 1024/,
  },
  {
    name: "timeout parameter of a wrong type",
    body: header({ parameters: { timeout: "soon" }, inputs: [A] }),
    status: 400,
    error: /'timeout' must be a non-negative integer/,
  },
  {
    name: "binary_data_output not a boolean",
    body: header({ parameters: { binary_data_output: "yes" }, inputs: [A] }),
    status: 400,
    error: /'binary_data_output' must be a boolean/,
  },
  {
    name: "sequence parameters",
    body: header({ parameters: { sequence_id: 5 }, inputs: [A] }),
    status: 400,
    error: /sequence batching/,
  },
  {
    name: "body over the declared limit",
    path: "/v2/models/big/infer",
    body: Buffer.alloc(LIMIT + 1),
    headers: { "Inference-Header-Content-Length": "0" },
    status: 413,
    error: /exceeds the limit/,
  },
  {
    name: "gzip bomb",
    path: "/v2/models/big/infer",
    body: gzipSync(Buffer.alloc(50 * LIMIT)),
    headers: { "Content-Encoding": "gzip", "Inference-Header-Content-Length": "0" },
    status: 413,
    error: /decompressed request body exceeds/,
  },
  {
    name: "deflate bomb",
    path: "/v2/models/big/infer",
    body: deflateSync(Buffer.alloc(50 * LIMIT)),
    headers: { "Content-Encoding": "deflate", "Inference-Header-Content-Length": "0" },
    status: 413,
    error: /decompressed request body exceeds/,
  },
  {
    name: "corrupt gzip",
    body: Buffer.from("not gzip"),
    headers: { "Content-Encoding": "gzip" },
    status: 400,
    error: /not valid gzip/,
  },
  {
    name: "unsupported encoding",
    body: Buffer.from("{}"),
    headers: { "Content-Encoding": "br" },
    status: 415,
    error: /Content-Encoding/,
  },
];

describe("bad HTTP inputs get a clear 4xx and the server keeps serving", () => {
  for (const row of rows) {
    it(`answers ${row.status} for ${row.name}`, async () => {
      const res = await fetch(`${base}${row.path ?? "/v2/models/m/infer"}`, {
        method: "POST",
        headers: row.headers ?? {},
        body: row.body,
      });
      expect(res.status).toBe(row.status);
      expect(res.headers.get("content-type")).toBe("application/json");
      const body = (await res.json()) as { error: string };
      expect(body.error).toMatch(row.error);
      expect((await fetch(`${base}/v2/health/ready`)).status).toBe(200);
    });
  }

  it("refuses a chunked body that grows past the limit", async () => {
    const chunk = `${(64 * 1024).toString(16)}\r\n${"x".repeat(64 * 1024)}\r\n`;
    const parts = [
      "POST /v2/models/big/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nInference-Header-Content-Length: 0\r\n\r\n",
      ...Array.from({ length: 20 }, () => chunk),
    ];
    const res = await rawRequest(base, parts);
    expect(res.status).toBe(413);
    expect(res.text).toMatch(/exceeds the limit/);
  });

  it("survives a flood of tiny chunks", async () => {
    const body = header({ inputs: [A] });
    const parts = [
      "POST /v2/models/m/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
      ...[...body].map((c) => `1\r\n${c}\r\n`),
      "0\r\n\r\n",
    ];
    const res = await rawRequest(base, parts);
    expect(res.status).toBe(200);
  });

  it("times out a slowloris client that never finishes its body", async () => {
    const started = Date.now();
    const res = await rawRequest(
      base,
      [
        "POST /v2/models/m/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n{",
        ...'"inputs"'.split(""),
      ],
      { delayMs: 400, timeoutMs: 15_000 },
    );
    expect(res.status === 408 || res.status === 0).toBe(true);
    expect(Date.now() - started).toBeLessThan(12_000);
    expect((await fetch(`${base}/v2/health/ready`)).status).toBe(200);
  });

  it("answers 431 for oversized request headers", async () => {
    const res = await rawRequest(base, [
      `GET /v2/health/ready HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${"a".repeat(100_000)}\r\n\r\n`,
    ]);
    expect(res.status).toBe(431);
  });

  it("never echoes internals in error messages", async () => {
    for (const row of rows) {
      const res = await fetch(`${base}${row.path ?? "/v2/models/m/infer"}`, {
        method: "POST",
        headers: row.headers ?? {},
        body: row.body,
      });
      const text = await res.text();
      expect(text).not.toMatch(/\/work|\/tmp|node_modules|at .*\.ts:\d+/);
    }
  });
});
