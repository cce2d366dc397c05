import { describe, expect, it } from "vitest";
import { decodeBytesElements, encodeBytesElements } from "../../src/core/bytes-codec.js";
import { DATATYPE_NAMES, DATATYPES, datatypeFromConfigName } from "../../src/core/datatypes.js";
import { InvalidArgumentError } from "../../src/core/errors.js";
import { elementCount, fixedByteSize, shapeMatches } from "../../src/core/shape.js";
import { Tensor } from "../../src/core/tensor.js";
import { tensor } from "../../src/core/tensor-factory.js";

describe("datatypes", () => {
  it("lists all 14 KServe datatypes with sizes and config names", () => {
    expect(DATATYPE_NAMES).toHaveLength(14);
    expect(DATATYPES.FP16.size).toBe(2);
    expect(DATATYPES.BF16.size).toBe(2);
    expect(DATATYPES.INT64.size).toBe(8);
    expect(DATATYPES.BOOL.size).toBe(1);
    expect(DATATYPES.BYTES.size).toBe(0);
    expect(DATATYPES.BYTES.configName).toBe("TYPE_STRING");
    expect(datatypeFromConfigName("TYPE_FP32")).toBe("FP32");
    expect(datatypeFromConfigName("TYPE_STRING")).toBe("BYTES");
    expect(DATATYPES.FP16.json).toBe(false);
  });
});

describe("shape maths", () => {
  it("counts elements and bytes", () => {
    expect(elementCount([2, 3, 4])).toBe(24);
    expect(elementCount([])).toBe(1);
    expect(elementCount([5, 0])).toBe(0);
    expect(fixedByteSize("FP32", [2, 3])).toBe(24);
    expect(fixedByteSize("BYTES", [2])).toBeUndefined();
  });
  it("rejects shapes whose element count overflows 2^53", () => {
    expect(() => elementCount([2 ** 30, 2 ** 30, 2 ** 30])).toThrow(InvalidArgumentError);
    expect(() => fixedByteSize("FP64", [2 ** 26, 2 ** 26])).toThrow(/too large/);
  });
  it("rejects negative and non-integer dims", () => {
    expect(() => elementCount([-1])).toThrow(InvalidArgumentError);
    expect(() => elementCount([1.5])).toThrow(InvalidArgumentError);
  });
  it("matches -1 as a wildcard", () => {
    expect(shapeMatches([-1, 16], [3, 16])).toBe(true);
    expect(shapeMatches([-1, 16], [3, 15])).toBe(false);
    expect(shapeMatches([16], [1, 16])).toBe(false);
  });
});

describe("BYTES codec", () => {
  it("round-trips strings and raw bytes with u32 little-endian lengths", () => {
    const enc = encodeBytesElements(["héllo", "", new Uint8Array([0, 255])]);
    expect([...enc.subarray(0, 4)]).toEqual([6, 0, 0, 0]);
    const dec = decodeBytesElements(enc, 3);
    expect(Buffer.from(dec[0]!).toString()).toBe("héllo");
    expect(dec[1]!.length).toBe(0);
    expect([...dec[2]!]).toEqual([0, 255]);
  });
  it("rejects a length prefix that runs past the buffer", () => {
    const bad = new Uint8Array([10, 0, 0, 0, 1, 2]);
    expect(() => decodeBytesElements(bad)).toThrow(/runs past/);
  });
  it("rejects a truncated length prefix", () => {
    expect(() => decodeBytesElements(new Uint8Array([1, 0]))).toThrow(/truncated/);
  });
  it("rejects an element count that does not match", () => {
    expect(() => decodeBytesElements(encodeBytesElements(["a", "b"]), 3)).toThrow(/expected 3/);
  });
});

describe("Tensor", () => {
  it("gives a typed view over the same memory", () => {
    const buf = new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer);
    const t = new Tensor("x", "FP32", [2, 2], buf);
    const data = t.data as Float32Array;
    expect([...data]).toEqual([1, 2, 3, 4]);
    expect(data.buffer).toBe(buf.buffer);
  });
  it("copies only when the bytes are unaligned", () => {
    const backing = new Uint8Array(9);
    backing.set(new Uint8Array(new Int32Array([7, 8]).buffer), 1);
    const t = new Tensor("x", "INT32", [2], backing.subarray(1));
    const data = t.data as Int32Array;
    expect([...data]).toEqual([7, 8]);
    expect(data.buffer).not.toBe(backing.buffer); // a copy: Int32Array cannot start at offset 1
    const aligned = new Uint8Array(12);
    aligned.set(new Uint8Array(new Int32Array([7, 8]).buffer), 4);
    const view = new Tensor("x", "INT32", [2], aligned.subarray(4)).data as Int32Array;
    expect([...view]).toEqual([7, 8]);
    expect(view.buffer).toBe(aligned.buffer); // no copy: the same memory at its offset
    expect(view.byteOffset).toBe(4);
  });
  it("builds every datatype from JS values", () => {
    expect(Tensor.fromArray("BOOL", [3], [true, false, true]).toArray()).toEqual([true, false, true]);
    expect(Tensor.fromArray("INT64", [2], [1, 2n ** 62n]).toArray()).toEqual([1, 2n ** 62n]);
    expect(Tensor.fromArray("UINT8", [2], [1, 255]).toArray()).toEqual([1, 255]);
    expect(Tensor.fromArray("FP16", [2], [1.5, -2]).toArray()).toEqual([1.5, -2]);
    expect(Tensor.fromArray("BF16", [1], [2]).toArray()).toEqual([2]);
    expect(tensor.fromStrings([2], ["a", "ü"]).data).toEqual(["a", "ü"]);
  });
  it("refuses values that do not fill the shape", () => {
    expect(() => Tensor.fromArray("FP32", [2, 2], [1, 2, 3])).toThrow(/do not fill/);
    expect(() => Tensor.fromTyped("FP32", [3], new Float32Array(2))).toThrow(/do not match/);
  });
  it("declares specs with tensor()", () => {
    expect(tensor("INT32", [-1, 4], { optional: true })).toEqual({
      datatype: "INT32",
      shape: [-1, 4],
      optional: true,
    });
    expect(() => tensor("INT33" as never, [1])).toThrow(/unknown datatype/);
    expect(() => tensor("INT32", [-2])).toThrow(/invalid dimension/);
  });
});
