import { ConfigError } from "../core/errors.js";
import { loadShmAddonModule, SHM_ADDON_FIX } from "../core/shm-addon-module.js";

/** The part of the shm addon (native/shm) that maps clients' regions. */
export interface ClientRegionAddon {
  /** Opens and maps a whole segment read-write; the handle keeps its descriptor for size checks. */
  openClientRegion(name: string): { buffer: ArrayBuffer; handle: object };
  /** The segment's size now; -1 once closed. */
  regionSize(handle: object): number;
  closeRegion(handle: object): void;
  /** Unmaps now and detaches the buffer. */
  unmap(buffer: ArrayBuffer): boolean;
  isMapping(buffer: ArrayBufferLike): boolean;
  liveMappings(): number;
}

/** The CUDA part of the addon (native/shm/src/cuda_region_napi.cc); absent when built without it. */
export interface CudaAddon {
  cudaDevices(): { count: number; reason: string };
  cudaOpenIpc(handle: Uint8Array, device: number): { pointer: bigint; bytes: number };
  cudaCloseIpc(pointer: bigint, device: number): void;
  cudaCopyToHost(pointer: bigint, dest: Uint8Array, device: number): void;
  cudaCopyToDevice(pointer: bigint, src: Uint8Array, device: number): void;
}

/** The CUDA part and how many devices it sees; `devices` 0 with the reason when CUDA is unusable. */
export function cudaSupport(): { addon: CudaAddon | undefined; devices: number; reason: string } {
  let a: ClientRegionAddon & Partial<CudaAddon>;
  try {
    a = clientRegionAddon();
  } catch (err) {
    return { addon: undefined, devices: 0, reason: (err as Error).message };
  }
  if (typeof a.cudaDevices !== "function")
    return { addon: undefined, devices: 0, reason: "the shm addon was built without CUDA regions" };
  const { count, reason } = a.cudaDevices();
  return { addon: a as CudaAddon, devices: count, reason };
}

let addon: ClientRegionAddon | undefined;

export function clientRegionAddon(): ClientRegionAddon {
  if (addon === undefined) {
    try {
      addon = loadShmAddonModule() as ClientRegionAddon;
    } catch (err) {
      throw new ConfigError(`${(err as Error).message} (or start with --shm-extension off)`, { cause: err });
    }
    if (typeof addon.openClientRegion !== "function")
      throw new ConfigError(`the shared-memory addon is out of date: ${SHM_ADDON_FIX}`);
  }
  return addon;
}
