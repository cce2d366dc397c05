import { isUtf8 } from "node:buffer";
import { encodeBytesElements } from "../../core/bytes-codec.js";
import { DATATYPES, type Datatype } from "../../core/datatypes.js";
import { InvalidArgumentError } from "../../core/errors.js";
import { elementCount, formatShape } from "../../core/shape.js";
import type { Tensor } from "../../core/tensor.js";
import { describeValue } from "./describe-value.js";
import { jsonNumbersAddon } from "./json-native.js";

/**
 * Flattens JSON `data` (flat or nested row-major) into a list, checking the nesting against
 * the shape iteratively so hostile nesting cannot exhaust the stack.
 */
function flatten(data: unknown, shape: readonly number[], what: string, count: number): unknown[] {
  if (!Array.isArray(data)) throw new InvalidArgumentError(`${what}: 'data' must be an array`);
  // Flat data is the common case; accept it whenever it has the right length of scalars.
  if (data.length === count && (count === 0 || !Array.isArray(data[0]))) return data;
  const out: unknown[] = [];
  const stack: { arr: unknown[]; i: number; depth: number }[] = [{ arr: data, i: 0, depth: 0 }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.i >= top.arr.length) {
      stack.pop();
      continue;
    }
    const v = top.arr[top.i++];
    if (Array.isArray(v)) {
      if (top.depth + 1 >= shape.length)
        throw new InvalidArgumentError(`${what}: 'data' is nested deeper than shape ${formatShape(shape)}`);
      stack.push({ arr: v, i: 0, depth: top.depth + 1 });
    } else {
      out.push(v);
      if (out.length > count) break;
    }
  }
  return out;
}

/** Converts a JSON input's `data` into the tensor's binary form. */
export function jsonDataToBytes(
  datatype: Datatype,
  shape: readonly number[],
  data: unknown,
  what: string,
): Uint8Array {
  const info = DATATYPES[datatype];
  if (!info.json)
    throw new InvalidArgumentError(`${what}: ${datatype} data must be sent in binary form, not JSON`);
  const count = elementCount(shape, what);
  const values = flatten(data, shape, what, count);
  if (values.length !== count) {
    throw new InvalidArgumentError(
      `${what}: unexpected number of elements for shape ${formatShape(shape)}: expected ${count}, got ${values.length > count ? "more" : values.length}`,
    );
  }
  if (datatype === "BYTES") {
    return encodeBytesElements(
      values.map((v) => {
        if (typeof v !== "string")
          throw new InvalidArgumentError(`${what}: BYTES elements must be strings in JSON`);
        return v;
      }),
    );
  }
  const arr = new info.array!(count);
  const range = info.range;
  for (let i = 0; i < count; i++) {
    const v = values[i];
    if (datatype === "BOOL") {
      if (typeof v !== "boolean" && v !== 0 && v !== 1)
        throw new InvalidArgumentError(`${what}: BOOL elements must be true or false`);
      arr[i] = v ? 1 : 0;
    } else if (range) {
      const n =
        typeof v === "bigint" ? v : typeof v === "number" && Number.isInteger(v) ? BigInt(v) : undefined;
      if (n === undefined)
        throw new InvalidArgumentError(
          `${what}: ${datatype} elements must be integers, got ${describeValue(v)}`,
        );
      if (n < range[0] || n > range[1])
        throw new InvalidArgumentError(`${what}: value ${n} is out of range for ${datatype}`);
      arr[i] = (info.bigint ? n : Number(n)) as never;
    } else {
      // An integer literal of 16+ digits arrives as a BigInt (json-parse.ts); as a float it is a number.
      const x = typeof v === "bigint" ? Number(v) : v;
      if (typeof x !== "number")
        throw new InvalidArgumentError(`${what}: ${datatype} elements must be numbers`);
      // JSON has no infinity: one here is a literal that overflowed (1e400), or beyond FP32's range.
      if (!Number.isFinite(datatype === "FP32" ? Math.fround(x) : x))
        throw new InvalidArgumentError(
          `${what}: value ${describeValue(values[i])} is out of range for ${datatype}`,
        );
      arr[i] = x;
    }
  }
  return new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
}

/**
 * JSON text of a float of the tensor's own width: the shortest digits that read back as the same
 * value (for FP32, as float32: what NumPy, orjson and MLServer print), laid out as String() lays
 * out a number. -0 keeps its sign; NaN and infinities, which JSON cannot hold, become null.
 */
function formatFloat(v: number, fp32: boolean): string {
  if (Object.is(v, -0)) return "-0.0";
  if (!Number.isFinite(v)) return "null";
  return fp32 ? shortestFloat32(v) : String(v);
}

/** The fewest significant digits (1-9) whose value rounds to the float32 `v`, as String() lays them out. */
function shortestFloat32(v: number): string {
  // A float32 whose double text has at most 6 digits has that text as its shortest too: the
  // float32 rounding interval spans at most 1.2e-7 of the value, decimals of 6 digits lie at
  // least 1e-6 of it apart, so no other decimal of 6 digits or fewer fits in it.
  const s = String(v);
  if (significantDigits(s) <= 6) return s;
  let lo = 1;
  let hi = 9;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (Math.fround(Number(v.toPrecision(mid))) === v) hi = mid;
    else lo = mid + 1;
  }
  return String(Number(halfToEven(v, lo, v.toPrecision(lo))));
}

/** Digits of a number's text, leading zeros and the exponent not counted. */
function significantDigits(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 101) break; // 'e'
    if (c >= 49 && c <= 57) n++;
    else if (c === 48 && n > 0) n++;
  }
  return n;
}

/**
 * toPrecision rounds a tie away from zero; the native formatter (shortest round-trip, as NumPy
 * and orjson) takes the even digit. `s` is v to p digits: when v lies exactly halfway and the
 * last digit came out odd, the other neighbour, v truncated to p digits, is the even one.
 */
function halfToEven(v: number, p: number, s: string): string {
  const longer = v.toPrecision(p + 1);
  const e = longer.search(/e|$/);
  if (longer[e - 1] !== "5") return s;
  const mantissa = s.slice(0, s.search(/e|$/));
  if (Number(mantissa[mantissa.length - 1]) % 2 === 0) return s;
  // Exactly halfway: nothing but zeros after digit p + 1 of v's exact expansion.
  const exact = v.toPrecision(100);
  const digits = exact.slice(0, exact.search(/e|$/)).replace(/[-.]/g, "").replace(/^0+/, "");
  if (!/^0*$/.test(digits.slice(p + 1))) return s;
  return longer.slice(0, e - 1) + longer.slice(e);
}

/** Whether every element is finite and none is -0 (then the default number text is the JSON text). */
function plainFloats(a: Float64Array): boolean {
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    if (v - v !== 0 || (v === 0 && 1 / v < 0)) return false;
  }
  return true;
}

function checkJsonOutput(t: Tensor): void {
  if (!DATATYPES[t.datatype].json)
    throw new InvalidArgumentError(
      `output '${t.name}': ${t.datatype} can only be returned in binary form; request binary_data`,
    );
}

/**
 * A tensor's elements as a flat JSON array in UTF-8. Numbers are written by the native addon
 * straight into the buffer (no JavaScript string per element or for the whole array: 10-30×
 * faster for 1 MiB of FP32, bench/json-identity/format.mjs); without the addon, as tensorToJsonData.
 */
export function tensorToJsonBytes(t: Tensor): Buffer {
  checkJsonOutput(t);
  const addon = t.datatype === "BYTES" ? undefined : jsonNumbersAddon();
  if (addon === undefined) return Buffer.from(tensorToJsonData(t), "utf8");
  return addon.formatJsonArray(t.bytes, t.datatype);
}

/** Renders a tensor's elements as a flat JSON array (text), exact for 64-bit integers. */
export function tensorToJsonData(t: Tensor): string {
  checkJsonOutput(t);
  switch (t.datatype) {
    case "BYTES":
      return JSON.stringify(utf8Strings(t));
    case "BOOL":
      return `[${Array.from(t.typed() as Uint8Array, (v) => (v ? "true" : "false")).join(",")}]`;
    case "FP32":
      return `[${Array.from(t.typed() as Float32Array, (v) => formatFloat(v, true)).join(",")}]`;
    case "FP64": {
      const a = t.typed() as Float64Array;
      // TypedArray#join formats in C++ without a string per element; it cannot write -0, NaN
      // or infinities as JSON needs them.
      return plainFloats(a)
        ? `[${a.join(",")}]`
        : `[${Array.from(a, (v) => formatFloat(v, false)).join(",")}]`;
    }
    default:
      // Typed arrays (BigInt64Array too) join to exact decimal text.
      return `[${(t.typed() as Int32Array).join(",")}]`;
  }
}

/** BYTES elements as text; one that is not UTF-8 is an error rather than a silent U+FFFD. */
function utf8Strings(t: Tensor): string[] {
  const elements = t.elements();
  elements.forEach((e, i) => {
    if (!isUtf8(e))
      throw new InvalidArgumentError(
        `output '${t.name}': BYTES element ${i} is not valid UTF-8 text; request the output with binary_data: true`,
      );
  });
  return t.strings();
}
