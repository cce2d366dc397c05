import type {
  CudaRegionStatus,
  SharedMemoryCore,
  SharedMemoryRef,
  SharedPlacement,
  SharedView,
  SystemRegionStatus,
} from "../core/shared-memory.js";
import type { ShmOp } from "./messages.js";
import { rememberViewHandle } from "./view-handles.js";

/** A blocking call to the engine's thread (RemoteCore's). */
export type ShmCall = (op: ShmOp, ...args: unknown[]) => unknown;

/**
 * The shared-memory extensions as a frontend thread sees them: every call is answered by the
 * engine's thread, which owns the mappings. An input in a client's region becomes a tensor whose
 * request names the engine's view of it (view-handles.ts): its bytes never cross threads (the
 * engine reads the region, a Python worker or a GPU model in place); they are fetched here only if
 * this thread reads them. The engine keeps its view until the thread releases it.
 */
export class RemoteSharedMemory implements SharedMemoryCore {
  readonly #call: ShmCall;
  #extensions: readonly string[] | undefined;

  constructor(call: ShmCall) {
    this.#call = call;
  }

  get extensions(): readonly string[] {
    this.#extensions ??= this.#call("extensions") as string[];
    return this.#extensions;
  }
  systemStatus(name?: string): SystemRegionStatus[] {
    return this.#call("systemStatus", name) as SystemRegionStatus[];
  }
  systemRegister(name: string, key: unknown, offset: unknown, byteSize: unknown): void {
    this.#call("systemRegister", name, key, offset, byteSize);
  }
  systemUnregister(name?: string): void {
    this.#call("systemUnregister", name);
  }
  cudaStatus(name?: string): CudaRegionStatus[] {
    return this.#call("cudaStatus", name) as CudaRegionStatus[];
  }
  cudaRegister(name: string, rawHandle: Uint8Array, deviceId: unknown, byteSize: unknown): void {
    this.#call("cudaRegister", name, rawHandle, deviceId, byteSize);
  }
  cudaUnregister(name?: string): void {
    this.#call("cudaUnregister", name);
  }
  view(ref: SharedMemoryRef, what: string): SharedView {
    const got = this.#call("view", ref, what) as { handle: number; placement: SharedPlacement };
    rememberViewHandle(got.placement, got.handle);
    let released = false;
    let bytes: Uint8Array | undefined;
    // Fetched only if this thread reads them; a request names the view and the engine reads it.
    const load = (): Uint8Array => {
      bytes ??= this.#call("viewBytes", got.handle) as Uint8Array;
      return bytes;
    };
    return {
      get bytes() {
        return load();
      },
      load,
      placement: got.placement,
      release: () => {
        if (released) return;
        released = true;
        this.#call("release", got.handle);
      },
    };
  }
  /** The engine's thread closes the real one. */
  close(): void {}
}
