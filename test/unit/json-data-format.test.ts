import { describe, expect, it } from "vitest";
import { Tensor } from "../../src/core/tensor.js";
import { tensorToJsonData } from "../../src/frontends/http/json-data.js";

const fp32 = (values: number[]) => Tensor.fromTyped("FP32", [values.length], Float32Array.from(values));

describe("JSON output of float tensors", () => {
  it("writes plain floats as the shortest double text, like String()", () => {
    const values = [1.5, -2.25, 0.1, 3e38, 0, 1e-7];
    const t = fp32(values);
    const expected = Array.from(t.typed() as Float32Array, (v) => String(v)).join(",");
    expect(tensorToJsonData(t)).toBe(`[${expected}]`);
    expect(JSON.parse(tensorToJsonData(t))).toEqual(Array.from(t.typed() as Float32Array));
  });

  it("keeps the sign of -0 and writes NaN and infinities as null", () => {
    expect(tensorToJsonData(fp32([1, -0, 2]))).toBe("[1,-0.0,2]");
    expect(tensorToJsonData(fp32([Number.NaN, 1]))).toBe("[null,1]");
    expect(tensorToJsonData(fp32([Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]))).toBe("[null,null]");
    const f64 = Tensor.fromTyped("FP64", [3], Float64Array.from([0.1, -0, 1e300]));
    expect(tensorToJsonData(f64)).toBe("[0.1,-0.0,1e+300]");
  });
});
