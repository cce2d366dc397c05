import { InvalidArgumentError, ResourceExhaustedError } from "../core/errors.js";
import {
  announceRegionUnmapped,
  type CudaRegionStatus,
  type SharedMemoryRef,
  type SharedView,
} from "../core/shared-memory.js";
import type { CudaAddon } from "./addon.js";
import { checkedRegionName } from "./keys.js";
import { unknownRegion, wireInteger } from "./system-regions.js";

interface CudaRegion {
  readonly name: string;
  readonly deviceId: number;
  readonly byteSize: number;
  readonly pointer: bigint;
  /** The IPC handle in base64, encoded once: what Python workers are sent with each request. */
  readonly handle: string;
  /** Unique per registration: Python workers that opened the handle themselves cache it by this. */
  readonly ipcKey: string;
  users: number;
  unregistered: boolean;
}

/**
 * Clients' CUDA regions: each registration opens the client's CUDA IPC handle once in this
 * process (`cudaIpcOpenMemHandle`). A model that takes device memory (native models that opt in)
 * gets the device pointer and nothing is copied; for the others the bytes are staged through
 * host memory: an input copied from the device when first read, an output to the device when
 * the model has produced it (docs/SHARED_MEMORY.md).
 */
export class CudaRegions {
  readonly #regions = new Map<string, CudaRegion>();
  readonly #addon: CudaAddon;
  readonly #devices: number;
  readonly #maxRegions: number;
  #registrations = 0;

  constructor(addon: CudaAddon, devices: number, maxRegions: number) {
    this.#addon = addon;
    this.#devices = devices;
    this.#maxRegions = maxRegions;
  }

  has(name: string): boolean {
    return this.#regions.has(name);
  }

  register(
    nameIn: unknown,
    rawHandle: Uint8Array,
    deviceIn: unknown,
    sizeIn: unknown,
    nameTaken: (n: string) => boolean,
  ): void {
    const name = checkedRegionName(nameIn);
    const deviceId = wireInteger(deviceIn, "device_id");
    const byteSize = wireInteger(sizeIn, "byte_size");
    if (rawHandle.byteLength !== 64)
      throw new InvalidArgumentError(`a CUDA IPC handle is 64 bytes, got ${rawHandle.byteLength}`);
    if (deviceId >= this.#devices)
      throw new InvalidArgumentError(
        `CUDA device ${deviceId} does not exist (this server sees ${this.#devices})`,
      );
    if (byteSize === 0) throw new InvalidArgumentError("shared-memory region byte_size must be positive");
    if (nameTaken(name)) throw new InvalidArgumentError(`shared memory region '${name}' already in manager`);
    if (this.#regions.size >= this.#maxRegions)
      throw new ResourceExhaustedError(
        `too many shared-memory regions registered (limit ${this.#maxRegions})`,
      );
    let opened: { pointer: bigint; bytes: number };
    try {
      opened = this.#addon.cudaOpenIpc(rawHandle, deviceId);
    } catch (err) {
      throw new InvalidArgumentError(
        `Unable to open CUDA shared memory region '${name}': ${(err as Error).message}`,
      );
    }
    if (opened.bytes > 0 && byteSize > opened.bytes) {
      this.#addon.cudaCloseIpc(opened.pointer, deviceId);
      throw new InvalidArgumentError(
        `CUDA shared memory region '${name}': byte_size ${byteSize} is larger than the allocation (${opened.bytes} bytes)`,
      );
    }
    this.#regions.set(name, {
      name,
      deviceId,
      byteSize,
      pointer: opened.pointer,
      handle: Buffer.from(rawHandle).toString("base64"),
      ipcKey: `cuda-ipc/${name}/${++this.#registrations}`,
      users: 0,
      unregistered: false,
    });
  }

  status(name?: string): CudaRegionStatus[] {
    const list =
      name === undefined
        ? [...this.#regions.values()]
        : [this.#regions.get(name) ?? unknownRegion(name, "cuda")];
    return list.map((r) => ({ name: r.name, device_id: r.deviceId, byte_size: r.byteSize }));
  }

  unregister(name?: string): void {
    for (const n of name === undefined ? [...this.#regions.keys()] : [name]) {
      const r = this.#regions.get(n);
      if (r === undefined) continue;
      this.#regions.delete(n);
      r.unregistered = true;
      if (r.users === 0) this.#close(r);
    }
  }

  /** `ref`'s device pointer, and host bytes on demand: an input's fetched, an output's sent on flush(). */
  view(ref: SharedMemoryRef, what: string, output: boolean): SharedView | undefined {
    const r = this.#regions.get(ref.region);
    if (r === undefined) return undefined;
    if (ref.offset > r.byteSize || ref.byteSize > r.byteSize - ref.offset) {
      throw new InvalidArgumentError(
        `${what}: shared_memory_offset ${ref.offset} + shared_memory_byte_size ${ref.byteSize} is past the end of region '${r.name}' (${r.byteSize} bytes)`,
      );
    }
    const pointer = r.pointer + BigInt(ref.offset);
    // Host staging, only when something reads or writes host bytes: a model that takes device
    // memory gets `placement` (the pointer) and neither copy happens.
    let staged: Uint8Array | undefined;
    const host = (): Uint8Array => {
      if (staged !== undefined) return staged;
      if (released) throw new InvalidArgumentError(`${what}: region '${r.name}' was released`);
      staged = new Uint8Array(ref.byteSize);
      if (!output && ref.byteSize > 0) this.#addon.cudaCopyToHost(pointer, staged, r.deviceId);
      return staged;
    };
    r.users++;
    let released = false;
    return {
      get bytes() {
        return host();
      },
      ...(!output && { load: host }),
      placement: {
        kind: "cuda",
        deviceId: r.deviceId,
        devicePointer: pointer,
        byteSize: ref.byteSize,
        ipcHandle: r.handle,
        ipcKey: r.ipcKey,
        offset: ref.offset,
      },
      flush: (length: number) => {
        if (length > 0 && staged !== undefined)
          this.#addon.cudaCopyToDevice(pointer, staged.subarray(0, length), r.deviceId);
      },
      release: () => {
        if (released) return;
        released = true;
        r.users--;
        if (r.unregistered && r.users === 0) this.#close(r);
      },
    };
  }

  close(): void {
    for (const r of this.#regions.values()) this.#close(r);
    this.#regions.clear();
  }

  #close(r: CudaRegion): void {
    announceRegionUnmapped(r.ipcKey); // Python workers close their own opening of the handle
    try {
      this.#addon.cudaCloseIpc(r.pointer, r.deviceId);
    } catch {
      // the device is gone or reset: nothing left to release
    }
  }
}
