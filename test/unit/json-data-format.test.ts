import { describe, expect, it } from "vitest";
import type { Datatype } from "../../src/core/datatypes.js";
import { Tensor } from "../../src/core/tensor.js";
import { tensorToJsonBytes, tensorToJsonData } from "../../src/frontends/http/json-data.js";
import { jsonNumbersAddon } from "../../src/frontends/http/json-native.js";

const fp32 = (values: number[]) => Tensor.fromTyped("FP32", [values.length], Float32Array.from(values));
const tensor = (dt: Datatype, a: ArrayLike<number | bigint>) =>
  Tensor.fromTyped(dt as "FP32", [a.length], a as Float32Array);

const F32_TRICKY = [
  0,
  -0,
  0.1,
  -0.1,
  1,
  -1,
  1.5,
  100.25,
  1e-45,
  -1e-45,
  1.1754942e-38,
  1.17549435e-38,
  3.4028235e38,
  -3.4028235e38,
  16777216,
  16777217,
  1e21,
  1e-7,
  1e-6,
  123456789,
  0.3,
  2 ** -126,
  2 ** -149,
  2 ** 24,
  2 ** 100,
  2 ** -100,
  Math.PI,
  Math.E,
  65504,
  1 / 3,
  Number.NaN,
  Infinity,
  -Infinity,
];
const F64_TRICKY = [
  0,
  -0,
  0.1,
  5e-324,
  -5e-324,
  2.2250738585072014e-308,
  Number.MAX_VALUE,
  -Number.MAX_VALUE,
  Number.MAX_SAFE_INTEGER,
  2 ** 53 + 2,
  1e21,
  1e-7,
  123e-20,
  1 / 3,
  Number.NaN,
  Infinity,
  -Infinity,
];

describe("JSON output of float tensors", () => {
  it("writes FP32 as the shortest text that reads back as the same float32", () => {
    expect(tensorToJsonData(fp32([0.1, 1.5, -2.25, 3.4028235e38, 1e-45, 1e-7, 1e21]))).toBe(
      "[0.1,1.5,-2.25,3.4028235e+38,1e-45,1e-7,1e+21]",
    );
    const t = fp32(F32_TRICKY.filter(Number.isFinite));
    expect(Float32Array.from(JSON.parse(tensorToJsonData(t)) as number[])).toEqual(t.typed());
  });

  it("keeps the sign of -0 and writes NaN and infinities as null", () => {
    expect(tensorToJsonData(fp32([1, -0, 2]))).toBe("[1,-0.0,2]");
    expect(tensorToJsonData(fp32([Number.NaN, 1]))).toBe("[null,1]");
    expect(tensorToJsonData(fp32([Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]))).toBe("[null,null]");
    const f64 = Tensor.fromTyped("FP64", [3], Float64Array.from([0.1, -0, 1e300]));
    expect(tensorToJsonData(f64)).toBe("[0.1,-0.0,1e+300]");
  });
});

describe("native JSON output (the addon) against the JavaScript path", () => {
  const addon = jsonNumbersAddon();
  it("the addon is built (npm run build:native)", () => {
    expect(addon).toBeDefined();
  });

  const same = (t: Tensor) => {
    expect(addon!.formatJsonArray(t.bytes, t.datatype).toString("utf8")).toBe(tensorToJsonData(t));
    expect(tensorToJsonBytes(t).toString("utf8")).toBe(tensorToJsonData(t));
  };

  it("gives identical text for tricky FP32 and FP64 values", () => {
    same(fp32(F32_TRICKY));
    same(tensor("FP64", Float64Array.from(F64_TRICKY)));
    same(fp32([]));
  });

  it("gives identical text for random float32 and float64 bit patterns", () => {
    const bits = new Uint32Array(20000);
    let x = 0x9e3779b9;
    for (let i = 0; i < bits.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      bits[i] = x >>> 0;
    }
    same(Tensor.fromTyped("FP32", [bits.length], new Float32Array(bits.buffer)));
    // Values with short decimals take the JavaScript path's shortcut (String of the double).
    same(fp32(Array.from({ length: 5000 }, (_, i) => (i % 1000) * 0.25 - 100.5 + i * 1e-3)));
    same(fp32(Array.from({ length: 5000 }, (_, i) => i * 0.1 * 10 ** ((i % 60) - 30))));
    same(Tensor.fromTyped("FP64", [bits.length / 2], new Float64Array(bits.buffer)));
  });

  it("gives identical text for integers at their limits and BOOL", () => {
    same(tensor("INT8", Int8Array.from([-128, 0, 127])));
    same(tensor("UINT8", Uint8Array.from([0, 255])));
    same(tensor("INT16", Int16Array.from([-32768, 32767])));
    same(tensor("UINT16", Uint16Array.from([0, 65535])));
    same(tensor("INT32", Int32Array.from([-2147483648, 2147483647, -1])));
    same(tensor("UINT32", Uint32Array.from([0, 4294967295])));
    same(tensor("INT64", BigInt64Array.from([-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n])));
    same(tensor("UINT64", BigUint64Array.from([0n, 2n ** 64n - 1n, 2n ** 53n + 1n])));
    same(tensor("BOOL", Uint8Array.from([1, 0, 1])));
  });
});
