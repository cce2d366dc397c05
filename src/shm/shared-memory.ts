import { InvalidArgumentError, UnimplementedError } from "../core/errors.js";
import type {
  CudaRegionStatus,
  SharedMemoryCore,
  SharedMemoryRef,
  SharedView,
  SystemRegionStatus,
} from "../core/shared-memory.js";
import { cudaSupport } from "./addon.js";
import { CudaRegions } from "./cuda-regions.js";
import { SystemRegions } from "./system-regions.js";

export type ShmExtensionMode = "off" | "system" | "all";

export interface SharedMemoryOptions {
  /** Most regions registered at once, per kind (each holds a descriptor or an IPC mapping). */
  readonly maxRegions?: number;
  /** Whether status answers carry the regions' keys (off by default: a key names a client's memory). */
  readonly showKeys?: boolean;
  /** Whether CUDA regions may be registered (they are only when a CUDA device is usable). */
  readonly cuda?: boolean;
}

/**
 * The server's shared-memory extensions: system regions, and CUDA regions when the server can
 * open CUDA IPC handles. Region names share one namespace across both kinds (as in Triton).
 */
export class SharedMemoryRegistry implements SharedMemoryCore {
  readonly extensions: readonly string[];
  /** Why CUDA regions are not available (empty when they are, or were not asked for). */
  readonly cudaUnavailable: string;
  readonly #system: SystemRegions;
  readonly #cuda: CudaRegions | undefined;

  constructor(options: SharedMemoryOptions = {}) {
    const maxRegions = options.maxRegions ?? 1024;
    this.#system = new SystemRegions({ maxRegions, showKeys: options.showKeys ?? false });
    let why = "";
    if (options.cuda === true) {
      const { addon, devices, reason } = cudaSupport();
      if (addon !== undefined && devices > 0) this.#cuda = new CudaRegions(addon, devices, maxRegions);
      else why = reason;
    }
    this.cudaUnavailable = why;
    this.extensions = this.#cuda ? ["system_shared_memory", "cuda_shared_memory"] : ["system_shared_memory"];
  }

  systemStatus(name?: string): SystemRegionStatus[] {
    return this.#system.status(name);
  }

  systemRegister(name: string, key: unknown, offset: unknown, byteSize: unknown): void {
    this.#system.register({ name, key, offset, byteSize }, (n) => this.#taken(n));
  }

  systemUnregister(name?: string): void {
    this.#system.unregister(name);
  }

  cudaStatus(name?: string): CudaRegionStatus[] {
    return this.#cudaRegions().status(name);
  }

  cudaRegister(name: string, rawHandle: Uint8Array, deviceId: unknown, byteSize: unknown): void {
    this.#cudaRegions().register(name, rawHandle, deviceId, byteSize, (n) => this.#taken(n));
  }

  cudaUnregister(name?: string): void {
    this.#cudaRegions().unregister(name);
  }

  view(ref: SharedMemoryRef, what: string, output = false): SharedView {
    const v = this.#system.view(ref, what) ?? this.#cuda?.view(ref, what, output);
    if (v === undefined)
      throw new InvalidArgumentError(`${what}: Unable to find shared memory region: '${ref.region}'`);
    return v;
  }

  close(): void {
    this.#system.close();
    this.#cuda?.close();
  }

  #taken(name: string): boolean {
    return this.#system.has(name) || (this.#cuda?.has(name) ?? false);
  }

  #cudaRegions(): CudaRegions {
    if (this.#cuda === undefined)
      throw new UnimplementedError(
        `CUDA shared memory is not available on this server${this.cudaUnavailable ? `: ${this.cudaUnavailable}` : " (--shm-extension all enables it)"}`,
      );
    return this.#cuda;
  }
}
