import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { bf16ToNumber, fp16ToNumber, numberToBf16, numberToFp16 } from "../../src/core/half.js";
import { INTERPRETER } from "../helpers/cli.js";

// The reference: every double is an integer multiple of 2^-1074, so BigInts compare them exactly.
const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);

function scaled(x: number): bigint {
  f64[0] = x;
  const bits = u64[0]!;
  const exp = Number((bits >> 52n) & 0x7ffn);
  const mant = bits & ((1n << 52n) - 1n);
  return exp === 0 ? mant : (mant | (1n << 52n)) << BigInt(exp - 1);
}

function nextUp(x: number): number {
  f64[0] = x;
  u64[0] = u64[0]! + 1n;
  return f64[0]!;
}

function nextDown(x: number): number {
  f64[0] = x;
  u64[0] = u64[0]! - 1n;
  return f64[0]!;
}

interface Format {
  name: string;
  encode(x: number): number;
  decode(w: number): number;
  maxFinite: number;
  infinity: number;
}

const FORMATS: Format[] = [
  { name: "FP16", encode: numberToFp16, decode: fp16ToNumber, maxFinite: 0x7bff, infinity: 0x7c00 },
  { name: "BF16", encode: numberToBf16, decode: bf16ToNumber, maxFinite: 0x7f7f, infinity: 0x7f80 },
];

/** Round to nearest, ties to even, by definition: the nearer of the two words around x. */
function reference(f: Format, x: number): number {
  const sign = x < 0 ? 0x8000 : 0;
  const a = scaled(Math.abs(x));
  let lo = 0;
  let hi = f.infinity; // the first word above the finite range stands for 2^(maxExp+1)
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (scaled(f.decode(mid)) <= a) lo = mid;
    else hi = mid;
  }
  const below = scaled(f.decode(lo));
  const above =
    hi === f.infinity
      ? 2n * scaled(f.decode(f.maxFinite)) - scaled(f.decode(f.maxFinite - 1))
      : scaled(f.decode(hi));
  if (a === below) return sign | lo;
  const d = a - below - (above - a);
  return sign | (d < 0n || (d === 0n && lo % 2 === 0) ? lo : hi);
}

/** Doubles at and around every halfway point between two neighbouring positive words. */
function boundaryDoubles(f: Format): number[] {
  const out: number[] = [];
  for (let w = 0; w < f.maxFinite; w++) {
    const mid = (f.decode(w) + f.decode(w + 1)) / 2; // exact: one more bit than the format has
    out.push(mid, nextUp(mid), nextDown(mid), mid * (1 + 2 ** -40), mid * (1 - 2 ** -40));
  }
  const top = f.decode(f.maxFinite);
  const overflow = top + (top - f.decode(f.maxFinite - 1)) / 2;
  out.push(overflow, nextDown(overflow), nextUp(overflow), Number.MAX_VALUE, Number.MIN_VALUE);
  return out;
}

describe.each(FORMATS)("$name conversion", (f) => {
  it("round-trips all 65 536 words (NaNs stay NaN)", () => {
    for (let w = 0; w < 0x10000; w++) {
      const v = f.decode(w);
      const nan = (w & 0x7fff) > f.infinity;
      if (nan) {
        expect(v).toBeNaN();
        expect(Number.isNaN(f.decode(f.encode(v)))).toBe(true);
      } else if (f.encode(v) !== w) {
        expect.fail(`word 0x${w.toString(16)} (${v}) encodes to 0x${f.encode(v).toString(16)}`);
      }
    }
  });

  it("rounds doubles near every halfway point to nearest, ties to even", () => {
    let checked = 0;
    for (const x of boundaryDoubles(f)) {
      for (const v of [x, -x]) {
        const want = reference(f, v);
        if (f.encode(v) !== want)
          expect.fail(`${v} encodes to 0x${f.encode(v).toString(16)}, not 0x${want.toString(16)}`);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(100_000);
  });
});

describe("FP16 conversion", () => {
  it("rounds once, straight from the double (no detour through float32)", () => {
    expect(numberToFp16(1 + 2 ** -11 + 2 ** -40)).toBe(0x3c01);
    expect(numberToFp16(1 + 2 ** -11)).toBe(0x3c00); // a tie goes to the even word
    expect(numberToFp16(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(numberToFp16(65519.99)).toBe(0x7bff);
    expect(numberToFp16(65520)).toBe(0x7c00);
    expect(numberToFp16(2 ** -25)).toBe(0); // half the smallest subnormal: a tie, to zero
    expect(numberToFp16(2 ** -25 + 2 ** -60)).toBe(1);
    expect(numberToFp16(-0)).toBe(0x8000);
    expect(numberToFp16(Number.NaN)).toBe(0x7e00);
  });

  it("agrees with numpy's float16 on the boundary doubles", () => {
    const f = FORMATS[0]!;
    const xs = boundaryDoubles(f).filter((_, i) => i % 7 === 0);
    const script =
      "import sys, json, numpy as np\n" +
      "xs = np.array(json.load(sys.stdin), dtype=np.float64)\n" +
      "print(json.dumps(xs.astype(np.float16).view(np.uint16).tolist()))";
    const out = execFileSync(INTERPRETER, ["-c", script], { input: JSON.stringify(xs), encoding: "utf8" });
    const numpy = JSON.parse(out) as number[];
    expect(numpy.length).toBe(xs.length);
    expect(xs.map((x) => f.encode(x))).toEqual(numpy);
  });
});
