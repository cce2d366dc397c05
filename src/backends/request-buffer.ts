import type { RequestBuffer } from "../core/backend.js";
import { shm } from "./shm-addon.js";

/** Tensor data starts on a cache line: what SIMD loads, CUDA copies and pyarrow prefer. */
export const DATA_ALIGNMENT = 64;

let addressOf: ((b: ArrayBufferLike) => number) | undefined;
function baseAddress(buffer: ArrayBuffer): number {
  if (addressOf === undefined) {
    try {
      const addon = shm();
      addressOf = (b) => addon.address(b);
    } catch {
      addressOf = () => 0; // no addon (a JS-only install): V8's allocations are 16-byte aligned
    }
  }
  return addressOf(buffer);
}

/** How far into a buffer starting at `address` to begin so `alignAt` lands on the alignment. */
export function alignmentPad(address: number, alignAt: number): number {
  return (DATA_ALIGNMENT - ((address + alignAt) % DATA_ALIGNMENT)) % DATA_ALIGNMENT;
}

/**
 * A heap buffer for one request body whose `alignAt`-th byte is 64-byte aligned in memory, so a
 * native model's input pointer needs no alignment copy. Its own ArrayBuffer (not Node's pool),
 * uninitialised: the socket's bytes overwrite it all.
 */
export function heapRequestBuffer(byteLength: number, alignAt: number): RequestBuffer {
  const buffer = Buffer.allocUnsafeSlow(byteLength + DATA_ALIGNMENT).buffer as ArrayBuffer;
  const pad = alignmentPad(baseAddress(buffer), alignAt);
  return { bytes: new Uint8Array(buffer, pad, byteLength), release: () => undefined };
}
