import { InvalidArgumentError } from "./errors.js";

/**
 * The BYTES wire form shared by the binary HTTP extension, gRPC raw contents and our arenas:
 * each element is a u32 little-endian length followed by that many bytes.
 */

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8");

/** Splits a serialized BYTES buffer into element views (no copies). Throws on a length that runs past the end. */
export function decodeBytesElements(buf: Uint8Array, expectedCount?: number, what = "tensor"): Uint8Array[] {
  const out: Uint8Array[] = [];
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let offset = 0;
  while (offset < buf.byteLength) {
    if (offset + 4 > buf.byteLength) {
      throw new InvalidArgumentError(`${what}: BYTES element length prefix is truncated`);
    }
    const len = view.getUint32(offset, true);
    offset += 4;
    if (len > buf.byteLength - offset) {
      throw new InvalidArgumentError(`${what}: BYTES element length ${len} runs past the end of the data`);
    }
    out.push(buf.subarray(offset, offset + len));
    offset += len;
    if (expectedCount !== undefined && out.length > expectedCount) break;
  }
  if (expectedCount !== undefined && out.length !== expectedCount) {
    throw new InvalidArgumentError(
      `${what}: expected ${expectedCount} BYTES elements, got ${out.length > expectedCount ? "more" : out.length}`,
    );
  }
  return out;
}

/** Counts BYTES elements without keeping views, validating every length prefix. */
export function countBytesElements(buf: Uint8Array, what = "tensor"): number {
  return decodeBytesElements(buf, undefined, what).length;
}

export type BytesElement = string | Uint8Array;

/** Serializes strings (UTF-8) or byte arrays into the length-prefixed wire form. */
export function encodeBytesElements(elements: readonly BytesElement[]): Uint8Array {
  const parts = elements.map((e) => (typeof e === "string" ? utf8.encode(e) : e));
  let total = 0;
  for (const p of parts) total += 4 + p.byteLength;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let offset = 0;
  for (const p of parts) {
    view.setUint32(offset, p.byteLength, true);
    out.set(p, offset + 4);
    offset += 4 + p.byteLength;
  }
  return out;
}

export function bytesToString(element: Uint8Array): string {
  return utf8Decoder.decode(element);
}
