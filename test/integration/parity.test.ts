import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Datatype } from "../../src/core/datatypes.js";
import { type ErrorCode, STATUS_TABLE } from "../../src/core/errors.js";
import { Tensor } from "../../src/core/tensor.js";
import { jsonDataToBytes } from "../../src/frontends/http/json-data.js";
import { parseJson } from "../../src/frontends/http/json-parse.js";
import { type InferenceClient, inferenceClient, inferParameter, typedContents } from "../helpers/grpc.js";
import { ALL_DATATYPES, identityModels, paramsModel, SAMPLES, simpleModel } from "../helpers/models.js";
import { parseBinaryResponse, startServer } from "../helpers/server.js";

/**
 * One table of inference cases, run over every transport: HTTP with a JSON body, HTTP with
 * the binary-tensor extension, gRPC with raw_input_contents and gRPC with typed contents.
 * Each must give the same output tensors, or fail with the same error class (and, for errors
 * raised behind the frontends, the same message).
 */

type Transport = "http-json" | "http-binary" | "grpc-raw" | "grpc-typed";
const TRANSPORTS: readonly Transport[] = ["http-json", "http-binary", "grpc-raw", "grpc-typed"];

type Value = number | bigint | boolean | string;
interface CaseInput {
  name: string;
  datatype: Datatype;
  shape: number[];
  values: readonly Value[];
  /** Overrides the encoded bytes (binary/raw transports only), e.g. to send a wrong size. */
  bytes?: Uint8Array;
}
interface Case {
  name: string;
  model: string;
  inputs: CaseInput[];
  parameters?: Record<string, Value>;
  outputs?: string[];
  /** "ok", or the error code every transport must answer with. */
  expect: "ok" | ErrorCode;
  /** Transports that cannot express the case (FP16 in JSON, wrong byte sizes in typed form). */
  skip?: readonly Transport[];
}

type Outcome =
  | { ok: true; id: string | undefined; outputs: Tensor[] }
  | { ok: false; code: ErrorCode; message: string };

const halfOnlyBinary = (dt: Datatype): Transport[] =>
  dt === "FP16" || dt === "BF16" ? ["http-json", "grpc-typed"] : [];
const seq16 = (f: (i: number) => number) => Array.from({ length: 16 }, (_, i) => f(i));

const CASES: Case[] = [
  ...ALL_DATATYPES.map(
    (dt): Case => ({
      name: `identity ${dt}`,
      model: `identity_${dt.toLowerCase()}`,
      inputs: [{ name: "INPUT0", datatype: dt, shape: [1, 3], values: SAMPLES[dt] }],
      expect: "ok",
      skip: halfOnlyBinary(dt),
    }),
  ),
  {
    name: "simple, both outputs",
    model: "simple",
    inputs: [
      { name: "INPUT0", datatype: "INT32", shape: [2, 16], values: seq16((i) => i).concat(seq16((i) => -i)) },
      { name: "INPUT1", datatype: "INT32", shape: [2, 16], values: seq16(() => 1).concat(seq16(() => 2)) },
    ],
    expect: "ok",
  },
  {
    name: "simple, one requested output",
    model: "simple",
    inputs: [
      { name: "INPUT0", datatype: "INT32", shape: [1, 16], values: seq16((i) => i) },
      { name: "INPUT1", datatype: "INT32", shape: [1, 16], values: seq16((i) => i * 2) },
    ],
    outputs: ["OUTPUT1"],
    expect: "ok",
  },
  {
    name: "parameters of every kind",
    model: "params",
    inputs: [{ name: "INPUT0", datatype: "INT32", shape: [1], values: [0] }],
    parameters: { flag: true, count: 42, ratio: 0.25, label: "x", big: 9007199254740993n },
    expect: "ok",
  },
  {
    name: "unknown model",
    model: "nope",
    inputs: [{ name: "INPUT0", datatype: "INT32", shape: [1], values: [0] }],
    expect: "TB_ERR_NOT_FOUND",
  },
  {
    name: "wrong datatype",
    model: "identity_fp32",
    inputs: [{ name: "INPUT0", datatype: "INT32", shape: [1, 3], values: [1, 2, 3] }],
    expect: "TB_ERR_INVALID_ARG",
  },
  {
    name: "wrong rank",
    model: "simple",
    inputs: [
      { name: "INPUT0", datatype: "INT32", shape: [16], values: seq16((i) => i) },
      { name: "INPUT1", datatype: "INT32", shape: [16], values: seq16((i) => i) },
    ],
    expect: "TB_ERR_INVALID_ARG",
  },
  {
    name: "missing input",
    model: "simple",
    inputs: [{ name: "INPUT0", datatype: "INT32", shape: [1, 16], values: seq16((i) => i) }],
    expect: "TB_ERR_INVALID_ARG",
  },
  {
    name: "unexpected input",
    model: "identity_int32",
    inputs: [
      { name: "INPUT0", datatype: "INT32", shape: [1, 1], values: [1] },
      { name: "EXTRA", datatype: "INT32", shape: [1, 1], values: [1] },
    ],
    expect: "TB_ERR_INVALID_ARG",
  },
  {
    name: "batch above max_batch_size",
    model: "identity_int8",
    inputs: [{ name: "INPUT0", datatype: "INT8", shape: [9, 1], values: Array(9).fill(1) }],
    expect: "TB_ERR_INVALID_ARG",
  },
  {
    name: "unknown requested output",
    model: "identity_int32",
    inputs: [{ name: "INPUT0", datatype: "INT32", shape: [1, 1], values: [1] }],
    outputs: ["NOPE"],
    expect: "TB_ERR_INVALID_ARG",
  },
  {
    name: "byte size that does not match the shape",
    model: "identity_fp32",
    inputs: [
      { name: "INPUT0", datatype: "FP32", shape: [1, 3], values: [1, 2, 3], bytes: new Uint8Array(10) },
    ],
    expect: "TB_ERR_INVALID_ARG",
    skip: ["http-json", "grpc-typed"],
  },
];

let server: Awaited<ReturnType<typeof startServer>>;
let grpc: InferenceClient;

beforeAll(async () => {
  server = await startServer([...identityModels(), simpleModel, paramsModel], { grpc: 0 });
  grpc = inferenceClient(server.urls.grpc!);
});

afterAll(async () => {
  grpc?.close();
  await server?.close();
});

const bytesOf = (i: CaseInput) => i.bytes ?? Tensor.fromArray(i.datatype, i.shape, i.values).bytes;

/** The error code behind an HTTP status or gRPC code, through the shared status table. */
function codeOf(by: "http" | "grpc", status: number): ErrorCode {
  const hit = (Object.entries(STATUS_TABLE) as [ErrorCode, { http: number; grpc: number }][]).find(
    ([, s]) => s[by] === status,
  );
  if (!hit) throw new Error(`no error code maps to ${by} status ${status}`);
  return hit[0];
}

/** JSON with bigints written as exact integer literals. */
function stringifyExact(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? `__big__${v}` : v)).replace(
    /"__big__(-?\d+)"/g,
    "$1",
  );
}

async function run(transport: Transport, c: Case): Promise<Outcome> {
  const id = `case-${c.name}`;
  if (transport.startsWith("http")) {
    const binary = transport === "http-binary";
    const header = {
      id,
      // Binary outputs are asked for with the request-level flag, except where the case's own
      // parameters are under test (the flag would show among them): those answer in JSON.
      parameters: c.parameters ?? (binary ? { binary_data_output: true } : {}),
      inputs: c.inputs.map((i) => ({
        name: i.name,
        datatype: i.datatype,
        shape: i.shape,
        ...(binary ? { parameters: { binary_data_size: bytesOf(i).byteLength } } : { data: i.values }),
      })),
      ...(c.outputs ? { outputs: c.outputs.map((name) => ({ name })) } : {}),
    };
    const url = `${server.urls.http}/v2/models/${c.model}/infer`;
    let res: Response;
    if (binary) {
      const head = Buffer.from(stringifyExact(header));
      const body = Buffer.concat([head, ...c.inputs.map((i) => Buffer.from(bytesOf(i)))]);
      res = await fetch(url, {
        method: "POST",
        headers: { "Inference-Header-Content-Length": String(head.length) },
        body,
      });
    } else {
      res = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: stringifyExact(header),
      });
    }
    const buf = Buffer.from(await res.arrayBuffer());
    if (res.status !== 200)
      return {
        ok: false,
        code: codeOf("http", res.status),
        message: (JSON.parse(buf.toString()) as { error: string }).error,
      };
    const headerLength = res.headers.get("inference-header-content-length");
    if (headerLength !== null) {
      const { header: h, outputs } = parseBinaryResponse(buf, Number(headerLength));
      return {
        ok: true,
        id: h.id,
        outputs: h.outputs.map((o: any) => new Tensor(o.name, o.datatype, o.shape, outputs[o.name]!)),
      };
    }
    const h = parseJson(buf.toString()) as any;
    return {
      ok: true,
      id: h.id,
      outputs: h.outputs.map(
        (o: any) =>
          new Tensor(o.name, o.datatype, o.shape, jsonDataToBytes(o.datatype, o.shape, o.data, o.name)),
      ),
    };
  }
  const typed = transport === "grpc-typed";
  const request = {
    model_name: c.model,
    id,
    parameters: Object.fromEntries(
      Object.entries(c.parameters ?? {}).map(([k, v]) => [k, inferParameter(v)]),
    ),
    inputs: c.inputs.map((i) => ({
      name: i.name,
      datatype: i.datatype,
      shape: i.shape,
      ...(typed ? { contents: typedContents(i.datatype, i.values) } : {}),
    })),
    outputs: (c.outputs ?? []).map((name) => ({ name })),
    raw_input_contents: typed ? [] : c.inputs.map((i) => Buffer.from(bytesOf(i))),
  };
  try {
    const res = await grpc.call("ModelInfer", request);
    return {
      ok: true,
      id: res.id,
      outputs: res.outputs.map(
        (o: any, k: number) =>
          new Tensor(o.name, o.datatype, o.shape.map(Number), res.raw_output_contents[k]),
      ),
    };
  } catch (err) {
    const e = err as { code: number; details: string };
    return { ok: false, code: codeOf("grpc", e.code), message: e.details };
  }
}

const plain = (t: Tensor) => ({
  name: t.name,
  datatype: t.datatype,
  shape: [...t.shape],
  values: t.toArray(),
});

describe("HTTP and gRPC parity", () => {
  it.each(CASES)("$name", async (c) => {
    const transports = TRANSPORTS.filter((t) => !c.skip?.includes(t));
    const outcomes = await Promise.all(transports.map((t) => run(t, c)));
    const [first] = outcomes;
    for (const [k, o] of outcomes.entries()) {
      const where = `${transports[k]}: ${JSON.stringify(o, (_k, v) => (typeof v === "bigint" ? String(v) : v)).slice(0, 300)}`;
      if (c.expect === "ok") {
        expect(o.ok, where).toBe(true);
        if (!o.ok || !first?.ok) continue;
        expect(o.id, where).toBe(`case-${c.name}`);
        expect(o.outputs.map(plain), where).toEqual(first.outputs.map(plain));
      } else {
        expect(o.ok, where).toBe(false);
        if (o.ok || first?.ok) continue;
        expect(o.code, where).toBe(c.expect);
        // Errors raised behind the frontends read the same whichever way the request came.
        expect(o.message, where).toBe(first!.message);
      }
    }
    // Identity models answer with their input, so the common result is also the right one.
    if (c.expect === "ok" && c.model.startsWith("identity_") && first?.ok) {
      const i = c.inputs[0]!;
      expect(first.outputs.map(plain)).toEqual([
        plain(Tensor.fromArray(i.datatype, i.shape, i.values, "OUTPUT0")),
      ]);
    }
  });

  it("passes parameters through to the model identically", async () => {
    const c = CASES.find((x) => x.model === "params")!;
    const outcomes = await Promise.all(TRANSPORTS.map((t) => run(t, c)));
    const seen = outcomes.map((o) => (o.ok ? JSON.parse(o.outputs[0]!.strings()[0]!) : o));
    for (const s of seen) expect(s).toEqual({ ...c.parameters, big: "9007199254740993n" });
  });
});
