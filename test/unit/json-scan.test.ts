import { describe, expect, it } from "vitest";
import { decodeInferRequest } from "../../src/frontends/http/infer-codec.js";
import { jsonNumbersAddon } from "../../src/frontends/http/json-native.js";
import { scanJsonHeader } from "../../src/frontends/http/json-scan.js";

/** The outcome of decoding a body: each input's datatype, shape and bytes, or the error message. */
function outcome(text: string, jsonScanMinBytes: number): unknown {
  try {
    const d = decodeInferRequest(Buffer.from(text), {
      model: "m",
      version: undefined,
      headerLength: undefined,
      jsonScanMinBytes,
    });
    return d.request.inputs.map((t) => [t.name, t.datatype, t.shape, Buffer.from(t.bytes).toString("hex")]);
  } catch (err) {
    return { error: (err as Error).message, code: (err as { code?: string }).code };
  }
}

const req = (datatype: string, shape: number[], data: string, extra = "") =>
  `{"inputs":[{"name":"x","datatype":"${datatype}","shape":${JSON.stringify(shape)},"data":${data}${extra}}]}`;

// Every case is decoded by the scanning path and the general one: same bytes or the same error.
const CASES: string[] = [
  req("FP32", [6], "[0, -0, 0.1, 1e-45, 3.4028235e38, -1.5E+3]"),
  req("FP32", [2, 3], "[[1,2,3],[4,5,6]]"),
  req("FP32", [2, 3], " [ [1 , 2,3 ] ,\n[4,5,6] ] "),
  req("FP32", [2, 2], "[[1,2],[],[3,4]]"),
  req("FP32", [3, 1], "[1,[2],3]"),
  req("FP32", [3], "[1,[2],3]"),
  req("FP32", [1], "[3.5e38]"),
  req("FP32", [1], "[1e400]"),
  req("FP32", [1], "[1e-400]"),
  req("FP32", [1], "[12345678901234567890123]"),
  req("FP32", [2], "[1,2,3]"),
  req("FP32", [4], "[1,2,3]"),
  req("FP32", [2], '[1,"2"]'),
  req("FP32", [2], "[1,null]"),
  req("FP32", [2], "[1,true]"),
  req("FP32", [2], "[1,2,]"),
  req("FP32", [2], "[01,2]"),
  req("FP32", [2], "[1 2]"),
  req("FP32", [2], "[.5,2]"),
  req("FP32", [2], "[-,2]"),
  req("FP32", [2], "[1.,2]"),
  req("FP32", [2], "[+1,2]"),
  req("FP32", [2], "[1,2]]"),
  req("FP32", [2], "[1,2"),
  req("FP32", [1], "[[[1]]]"),
  req("FP32", [0], "[]"),
  req("FP32", [1, 0], "[[]]"),
  req("FP32", [0], "[[]]"),
  req("FP32", [], "[7]"),
  req("FP64", [5], "[5e-324, 1.7976931348623157e308, 0.1, -0, 1e308]"),
  req("FP64", [1], "[2e308]"),
  req("INT8", [4], "[-128, 127, 1e2, -0]"),
  req("INT8", [1], "[128]"),
  req("INT8", [1], "[1.5]"),
  req("INT8", [1], "[1.0]"),
  req("INT8", [1], "[true]"),
  req("UINT8", [2], "[0, 255]"),
  req("UINT8", [1], "[-1]"),
  req("UINT8", [1], "[-0]"),
  req("INT16", [2], "[-32768, 32767]"),
  req("UINT16", [1], "[65536]"),
  req("INT32", [3], "[-2147483648, 2147483647, 2.5e3]"),
  req("INT32", [1], "[2147483648]"),
  req("UINT32", [1], "[4294967295]"),
  req("UINT32", [1], "[4294967296]"),
  req("INT64", [3], "[-9223372036854775808, 9223372036854775807, 9007199254740993]"),
  req("INT64", [1], "[9223372036854775808]"),
  req("INT64", [1], "[-9223372036854775809]"),
  req("INT64", [1], "[9.3e18]"),
  req("INT64", [1], "[-9.223372036854775808e18]"),
  req("UINT64", [3], "[18446744073709551615, 0, 1e19]"),
  req("UINT64", [1], "[18446744073709551616]"),
  req("UINT64", [1], "[1.8446744073709552e19]"),
  req("UINT64", [1], "[-1]"),
  req("BOOL", [5], "[true, false, 0, 1, 1.0]"),
  req("BOOL", [1], "[2]"),
  req("BOOL", [1], "[tru]"),
  req("BOOL", [1], "[truex]"),
  req("BOOL", [1], '["true"]'),
  req("FP16", [1], "[1]"),
  req("BYTES", [2], '["a","b"]'),
  req("BYTES", [1], "[1]"),
  req("FP32", [1], "5"),
  req("FP32", [1], '{"a":1}'),
  req("FP32", [1], "[1]", ',"data":[2]'),
  req("FP32", [1], "[1]", ',"parameters":{"binary_data_size":4}'),
  req("FP32", [1], "[1]", ',"parameters":{"data":[1,2]}'),
  `{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"d\\u0061ta":[1]}]}`,
  `{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[1]}],"inputs":[]}`,
  `{"inputs":5,"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[1]}]}`,
  `{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[1]}]} x`,
  `{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[1]}]`,
  `{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[1]},{"name":"y","datatype":"INT64","shape":[2],"data":[[1],[2]]}],"outputs":[{"name":"z"}],"parameters":{"big":12345678901234567890}}`,
  `{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[1]},{"name":"y","datatype":"INT8","shape":[1],"data":[1000]}]}`,
  `{"inputs":[{"name":"x","datatype":"INT8","shape":[1],"data":[1000]},{"name":"y","datatype":"nope","shape":[1],"data":[1]}]}`,
  `{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[1]},{"name":"","datatype":"FP32","shape":[1],"data":[1]}]}`,
  `{"id":"\\"}[","inputs":[{"name":"x]\\"","datatype":"FP32","shape":[1],"data":[1]}]}`,
  `[{"inputs":[]}]`,
  `{"inputs":[5,{"name":"x","datatype":"FP32","shape":[1],"data":[1]}]}`,
];

describe("the scanning JSON decoder (addon) against the general path", () => {
  it("the addon is built (npm run build:native)", () => {
    expect(jsonNumbersAddon()).toBeDefined();
  });

  it.each(CASES)("decodes %s as the general path does", (text) => {
    expect(outcome(text, 0)).toEqual(outcome(text, Number.POSITIVE_INFINITY));
  });

  it("takes well-formed data without the general path", () => {
    const addon = jsonNumbersAddon()!;
    const text = `{"id":"a","inputs":[{"name":"x","datatype":"FP32","shape":[2,2],"data":[[1,2],[3,4.5]]}]}`;
    const body = Buffer.from(text);
    const scanned = scanJsonHeader(body, body.length);
    expect(scanned?.header).toEqual({
      id: "a",
      inputs: [{ name: "x", datatype: "FP32", shape: [2, 2], data: [] }],
    });
    const range = scanned!.data.get(0)!;
    expect(body.toString("utf8", range.begin, range.end)).toBe("[[1,2],[3,4.5]]");
    const out = new Uint8Array(16);
    expect(addon.parseJsonArray(body, range.begin, range.end, "FP32", 4, 1, out)).toBe(true);
    expect(Array.from(new Float32Array(out.buffer))).toEqual([1, 2, 3, 4.5]);
    // Nested deeper than the shape allows, or a count that does not match: left to the general path.
    expect(addon.parseJsonArray(body, range.begin, range.end, "FP32", 4, 0, out)).toBe(false);
    expect(addon.parseJsonArray(body, range.begin, range.end, "FP32", 3, 1, new Uint8Array(12))).toBe(false);
  });

  it("reads random short and long literals to the same FP32 and FP64 bytes as JSON.parse", () => {
    let x = 0x2545f491;
    const rand = (n: number) => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) % n;
    };
    const literals = Array.from({ length: 20000 }, () => {
      const digits = Array.from({ length: 1 + rand(12) }, () => rand(10))
        .join("")
        .replace(/^0+(?=\d)/, "");
      const point = rand(3) === 0 ? "" : `.${rand(100000)}`;
      const exp = rand(2) === 0 ? "" : `e${rand(2) ? "-" : "+"}${rand(25)}`;
      return `${rand(2) ? "-" : ""}${digits}${point}${exp}`;
    });
    for (const dt of ["FP32", "FP64"]) {
      const text = req(dt, [literals.length], `[${literals.join(",")}]`);
      const fast = outcome(text, 0);
      expect(Array.isArray(fast)).toBe(true);
      expect(fast).toEqual(outcome(text, Number.POSITIVE_INFINITY));
    }
  });

  it("decodes randomly damaged bodies as the general path does", () => {
    let x = 0x1b873593;
    const rand = (n: number) => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) % n;
    };
    const base =
      `{"id":"r","inputs":[{"name":"a","datatype":"FP32","shape":[2,2],"data":[[1.5,-2],[3e2,0.25]]},` +
      `{"name":"b","datatype":"INT64","shape":[3],"data":[1,-9007199254740993,7]},` +
      `{"name":"c","datatype":"BOOL","shape":[2],"data":[true,0]},` +
      `{"name":"d","datatype":"BYTES","shape":[1],"data":["x\\"]"]}],"outputs":[{"name":"o"}]}`;
    const alphabet = '[]{},:"\\-.e0123456789 tn';
    for (let i = 0; i < 3000; i++) {
      const chars = base.split("");
      for (let k = 1 + rand(3); k > 0; k--) {
        const at = rand(chars.length);
        const op = rand(3);
        const c = alphabet[rand(alphabet.length)]!;
        if (op === 0) chars[at] = c;
        else if (op === 1) chars.splice(at, 1);
        else chars.splice(at, 0, c);
      }
      const text = chars.join("");
      expect(outcome(text, 0), text).toEqual(outcome(text, Number.POSITIVE_INFINITY));
    }
  });

  it("decodes a 1 MiB FP32 body to the same bytes as the general path", () => {
    const values = Float32Array.from({ length: 262144 }, (_, i) => Math.fround(Math.sin(i) * 1e3));
    const text = req("FP32", [1, values.length], `[${Array.from(values).join(",")}]`);
    const fast = outcome(text, 0) as [string, string, number[], string][];
    expect(Buffer.from(fast[0]![3], "hex").equals(Buffer.from(values.buffer))).toBe(true);
    expect(fast).toEqual(outcome(text, Number.POSITIVE_INFINITY));
  });
});
