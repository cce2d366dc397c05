/**
 * FP16 and BF16 conversions: JS has no half-precision arrays in Node 20, so these travel as
 * Uint16 words. A JS number is a double, and it is rounded once, straight to the half format
 * (round to nearest, ties to even): going through float32 first would round twice and get
 * values just above a halfway point wrong (1 + 2^-11 + 2^-40 must give 0x3c01, not 0x3c00).
 */

const f64 = new Float64Array(1);
const hi32 = new Uint32Array(f64.buffer, new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 4 : 0, 1);

/** The unbiased binary exponent of a positive, normal double. */
function exponentOf(a: number): number {
  f64[0] = a;
  return ((hi32[0]! >>> 20) & 0x7ff) - 1023;
}

/** Rounds a non-negative double below 2^52 to an integer, ties to even (exact: no step loses bits). */
function roundTiesEven(v: number): number {
  const floor = Math.floor(v);
  const diff = v - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * Encodes `value` in a 16-bit float with `mantBits` mantissa bits and the given exponent bias.
 * Values are scaled by powers of two (exact) so that the kept bits are the integer part.
 */
function encode(value: number, mantBits: number, bias: number, nan: number): number {
  if (Number.isNaN(value)) return nan;
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const a = Math.abs(value);
  const expBits = 15 - mantBits;
  const infinity = ((1 << expBits) - 1) << mantBits;
  const maxExp = (1 << expBits) - 2 - bias;
  // At or above halfway between the largest finite value and 2^(maxExp+1): infinity.
  if (a >= 2 ** maxExp * (2 - 2 ** -(mantBits + 1))) return sign | infinity;
  const minExp = 1 - bias;
  if (a < 2 ** minExp) return sign | roundTiesEven(a * 2 ** (mantBits - minExp)); // subnormal (or the smallest normal)
  const e = exponentOf(a);
  const m = roundTiesEven(a * 2 ** (mantBits - e)); // in [2^mantBits, 2^(mantBits+1)]
  // m = 2^(mantBits+1) carries into the exponent, which the addition does by itself.
  return sign | (((e + bias) << mantBits) + m - (1 << mantBits));
}

function decode(word: number, mantBits: number, bias: number): number {
  const sign = word & 0x8000 ? -1 : 1;
  const expMask = (1 << (15 - mantBits)) - 1;
  const exp = (word >>> mantBits) & expMask;
  const mant = word & ((1 << mantBits) - 1);
  if (exp === expMask) return mant ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  if (exp === 0) return sign * 2 ** (1 - bias - mantBits) * mant;
  return sign * 2 ** (exp - bias - mantBits) * ((1 << mantBits) + mant);
}

/** The FP16 word nearest to `value` (ties to even); NaN becomes the quiet NaN 0x7e00. */
export function numberToFp16(value: number): number {
  return encode(value, 10, 15, 0x7e00);
}

/** The exact value of an FP16 word. */
export function fp16ToNumber(word: number): number {
  return decode(word, 10, 15);
}

/** The BF16 word nearest to `value` (ties to even); NaN becomes the quiet NaN 0x7fc0. */
export function numberToBf16(value: number): number {
  return encode(value, 7, 127, 0x7fc0);
}

/** The exact value of a BF16 word. */
export function bf16ToNumber(word: number): number {
  return decode(word, 7, 127);
}
