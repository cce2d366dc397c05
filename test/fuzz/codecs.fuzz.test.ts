import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeBytesElements, encodeBytesElements } from "../../src/core/bytes-codec.js";
import { isTensorbindError } from "../../src/core/errors.js";
import { Tensor } from "../../src/core/tensor.js";
import { decodeInferRequest as decodeGrpc } from "../../src/frontends/grpc/codec.js";
import { loadProtos } from "../../src/frontends/grpc/load.js";
import { decodeInferRequest as decodeHttp } from "../../src/frontends/http/infer-codec.js";
import { parseJson } from "../../src/frontends/http/json-parse.js";

// Property tests of the wire codecs: whatever a client sends, a decoder either decodes it or
// throws one of our errors with a 4xx status, never anything else (a 500, a crash, a hang).
// FUZZ_RUNS raises the number of runs (e.g. FUZZ_RUNS=100000 for a long run on demand).

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const opts = { numRuns: RUNS };
const HTTP_OPTS = { model: "m", version: undefined, headerLength: undefined } as const;

/** Runs `fn`; passes when it returns or throws a client error (4xx), fails on anything else. */
function clientErrorOrValue(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch (err) {
    if (!isTensorbindError(err)) throw err;
    if (err.status.http < 400 || err.status.http >= 500) throw err;
    return true;
  }
}

const jsonValue = fc.jsonValue({ maxDepth: 6 });
const datatype = fc.constantFrom(
  "BOOL",
  "UINT8",
  "INT32",
  "INT64",
  "FP16",
  "FP32",
  "FP64",
  "BYTES",
  "BF16",
  "X",
);
const inputLike = fc.record(
  {
    name: fc.oneof(fc.string(), jsonValue),
    datatype: fc.oneof(datatype, jsonValue),
    shape: fc.oneof(
      fc.array(fc.oneof(fc.integer({ min: -2, max: 6 }), jsonValue), { maxLength: 4 }),
      jsonValue,
    ),
    data: fc.oneof(
      fc.array(fc.oneof(fc.double(), fc.integer(), fc.string(), fc.boolean(), jsonValue)),
      jsonValue,
    ),
    parameters: fc.oneof(fc.dictionary(fc.string(), jsonValue, { maxKeys: 3 }), jsonValue),
  },
  { requiredKeys: [] },
);
const requestLike = fc.record(
  {
    id: jsonValue,
    inputs: fc.oneof(fc.array(inputLike, { maxLength: 4 }), jsonValue),
    outputs: fc.oneof(
      fc.array(fc.record({ name: fc.string(), parameters: jsonValue }), { maxLength: 3 }),
      jsonValue,
    ),
    parameters: fc.oneof(fc.dictionary(fc.string(), jsonValue, { maxKeys: 3 }), jsonValue),
  },
  { requiredKeys: [] },
);

describe("HTTP infer codec", () => {
  it("answers arbitrary bytes with a value or a 4xx error", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), fc.option(fc.nat(600)), (bytes, headerLength) =>
        clientErrorOrValue(() =>
          decodeHttp(Buffer.from(bytes), {
            ...HTTP_OPTS,
            headerLength: headerLength === null ? undefined : String(headerLength),
          }),
        ),
      ),
      opts,
    );
  });

  it("answers arbitrary request-shaped JSON with a value or a 4xx error", () => {
    fc.assert(
      fc.property(requestLike, (req) =>
        clientErrorOrValue(() => decodeHttp(Buffer.from(JSON.stringify(req)), HTTP_OPTS)),
      ),
      opts,
    );
  });

  it("decodes the JSON form of any INT32 or FP64 tensor to its exact bytes", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc
            .array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { minLength: 1, maxLength: 64 })
            .map((v) => ["INT32", v] as const),
          fc
            .array(
              fc.double({ noNaN: true, noDefaultInfinity: true }).filter((x) => !Object.is(x, -0)),
              { minLength: 1, maxLength: 64 },
            )
            .map((v) => ["FP64", v] as const),
        ),
        ([dt, values]) => {
          const body = JSON.stringify({
            inputs: [{ name: "A", datatype: dt, shape: [values.length], data: values }],
          });
          const decoded = decodeHttp(Buffer.from(body), HTTP_OPTS);
          const expected = Tensor.fromArray(dt, [values.length], values).bytes;
          expect(Buffer.from(decoded.request.inputs[0]!.bytes)).toEqual(Buffer.from(expected));
        },
      ),
      opts,
    );
  });
});

describe("JSON parser", () => {
  it("agrees with JSON.parse on every JSON text without 16-digit integers", () => {
    fc.assert(
      fc.property(jsonValue, (v) => {
        const text = JSON.stringify(v);
        if (/\d{16,}/.test(text)) return true;
        expect(parseJson(text)).toEqual(JSON.parse(text));
      }),
      opts,
    );
  });

  it("keeps integers beyond 2^53 exact, and answers any text with a value or a 400", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }), (n) => {
        expect(parseJson(`{"v":[${n}]}`)).toEqual({ v: [Number.isSafeInteger(Number(n)) ? Number(n) : n] });
      }),
      opts,
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) =>
        clientErrorOrValue(() => parseJson(`${s}1234567890123456`)),
      ),
      opts,
    );
  });
});

describe("BYTES codec", () => {
  it("round-trips any list of elements, and answers any buffer with elements or a 4xx error", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 20 }), (elements) => {
        const decoded = decodeBytesElements(encodeBytesElements(elements), elements.length);
        expect(decoded.map((e) => Buffer.from(e))).toEqual(elements.map((e) => Buffer.from(e)));
      }),
      opts,
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 128 }), fc.option(fc.nat(10)), (buf, n) =>
        clientErrorOrValue(() => decodeBytesElements(buf, n ?? undefined)),
      ),
      opts,
    );
  });
});

describe("gRPC infer codec", () => {
  const type = loadProtos().inference.ModelInfer!;
  it("answers any protobuf bytes that decode with a value or a 4xx error", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
        let msg: unknown;
        try {
          msg = type.requestDeserialize(Buffer.from(bytes));
        } catch {
          return true; // undecodable: INVALID_ARGUMENT before the codec (undecodable.ts)
        }
        return clientErrorOrValue(() => decodeGrpc(msg as never));
      }),
      opts,
    );
  });

  it("answers any message built from valid parts with a value or a 4xx error", () => {
    const input = fc.record({
      name: fc.string({ maxLength: 5 }),
      datatype: datatype.map(String),
      shape: fc.array(fc.integer({ min: -1, max: 5 }), { maxLength: 3 }),
      contents: fc.record({ int_contents: fc.array(fc.integer({ min: -5, max: 5 }), { maxLength: 8 }) }),
    });
    fc.assert(
      fc.property(
        fc.array(input, { maxLength: 3 }),
        fc.array(fc.uint8Array({ maxLength: 16 }), { maxLength: 3 }),
        (inputs, raw) => {
          const bytes = type.requestSerialize({
            model_name: "m",
            inputs,
            raw_input_contents: raw.map((r) => Buffer.from(r)),
          });
          return clientErrorOrValue(() => decodeGrpc(type.requestDeserialize(bytes) as never));
        },
      ),
      opts,
    );
  });
});
