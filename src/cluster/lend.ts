import { shm } from "../backends/shm-addon.js";

/**
 * Outputs handed to a frontend thread by address instead of by copy. Threads of one process share
 * its memory, but an ArrayBuffer belongs to one thread and Node cannot transfer the external
 * buffers that native and Python outputs are. So the engine's thread keeps the response (and with
 * it the memory) until the frontend thread has written it, and sends where the bytes lie; the
 * frontend thread reads them through a buffer over that address (the shared-memory addon's
 * `borrow`), then says "release". Memory that can go away under a holder — shared-memory
 * mappings (a Python worker's arena, a client's region), which are unmapped on unload — is
 * copied instead, as is everything when the addon is missing or predates `borrow`.
 */

/** Where `bytes` lie in this process when they may be lent; undefined: copy them. */
export type Lender = (bytes: Uint8Array) => number | undefined;

/**
 * A lender, or undefined when the addon cannot borrow (then every output is copied).
 * TENSORBIND_LEND_OUTPUTS=0 copies too (for comparisons, and as a way out).
 */
export function makeLender(): Lender | undefined {
  if (process.env.TENSORBIND_LEND_OUTPUTS === "0") return undefined;
  const addon = loadedAddon();
  if (addon?.borrow === undefined) return undefined;
  return (bytes) => {
    const backing = bytes.buffer;
    if (!(backing instanceof ArrayBuffer) || (backing as { detached?: boolean }).detached) return undefined;
    if (addon.isMapping(backing)) return undefined;
    return addon.address(backing) + bytes.byteOffset;
  };
}

/** A view of `byteLength` bytes the engine's thread lent at `address`. */
export function borrow(address: number, byteLength: number): Uint8Array {
  return new Uint8Array(loadedAddon()!.borrow!(address, byteLength));
}

function loadedAddon(): ReturnType<typeof shm> | undefined {
  try {
    return shm();
  } catch {
    return undefined;
  }
}
