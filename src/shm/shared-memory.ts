import { InvalidArgumentError, UnimplementedError } from "../core/errors.js";
import type {
  CudaRegionStatus,
  SharedMemoryCore,
  SharedMemoryRef,
  SharedView,
  SystemRegionStatus,
} from "../core/shared-memory.js";
import { SystemRegions } from "./system-regions.js";

export type ShmExtensionMode = "off" | "system" | "all";

export interface SharedMemoryOptions {
  /** Most regions registered at once (each holds a descriptor and a mapping). */
  readonly maxRegions?: number;
  /** Whether status answers carry the regions' keys (off by default: a key names a client's memory). */
  readonly showKeys?: boolean;
  /** Whether CUDA regions may be registered (when the server has CUDA). */
  readonly cuda?: boolean;
}

/**
 * The server's shared-memory extensions: system regions, and CUDA regions when the server can
 * open CUDA IPC handles. Region names share one namespace across both kinds (as in Triton).
 */
export class SharedMemoryRegistry implements SharedMemoryCore {
  readonly extensions: readonly string[];
  readonly #system: SystemRegions;

  constructor(options: SharedMemoryOptions = {}) {
    this.#system = new SystemRegions({
      maxRegions: options.maxRegions ?? 1024,
      showKeys: options.showKeys ?? false,
    });
    this.extensions = ["system_shared_memory"];
  }

  systemStatus(name?: string): SystemRegionStatus[] {
    return this.#system.status(name);
  }

  systemRegister(name: string, key: unknown, offset: unknown, byteSize: unknown): void {
    this.#system.register({ name, key, offset, byteSize }, (n) => this.#system.has(n));
  }

  systemUnregister(name?: string): void {
    this.#system.unregister(name);
  }

  cudaStatus(): CudaRegionStatus[] {
    return this.#noCuda();
  }

  cudaRegister(): void {
    this.#noCuda();
  }

  cudaUnregister(): void {
    this.#noCuda();
  }

  view(ref: SharedMemoryRef, what: string): SharedView {
    const v = this.#system.view(ref, what);
    if (v === undefined)
      throw new InvalidArgumentError(`${what}: Unable to find shared memory region: '${ref.region}'`);
    return v;
  }

  close(): void {
    this.#system.close();
  }

  #noCuda(): never {
    throw new UnimplementedError("CUDA shared memory is not available: this server has no CUDA support");
  }
}
