/** Where a tensor lives in a client's shared memory (the shared-memory extensions, src/core/shared-memory.ts). */

/** The three tensor parameters of the extension, parsed and checked for type and sign. */
export interface SharedMemoryRef {
  readonly region: string;
  readonly offset: number;
  readonly byteSize: number;
}

/**
 * Where a tensor's bytes live when they are a client's region: the Python backend hands the
 * worker this instead of the bytes, a native model gets the pointer and this location.
 * `offset` is absolute in the segment (the registration's offset plus the request's).
 */
export type SharedPlacement =
  | { readonly kind: "system"; readonly key: string; readonly offset: number; readonly byteSize: number }
  | {
      readonly kind: "cuda";
      readonly deviceId: number;
      /** The device address of the tensor's first byte (as a bigint). */
      readonly devicePointer: bigint;
      readonly byteSize: number;
      /** The client's CUDA IPC handle (64 bytes, base64), so another process on the GPU can open it too. */
      readonly ipcHandle: string;
      /** One registration's name for that handle: what processes that opened it cache it by. */
      readonly ipcKey: string;
      /** The tensor's offset from the start of the allocation the handle names. */
      readonly offset: number;
    };
