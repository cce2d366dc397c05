import { loadShmAddonModule } from "../core/shm-addon-module.js";

/**
 * The typed surface of the shared-memory addon (native/shm/src/addon.cc). The rest of the
 * TypeScript never touches the untyped native object.
 *
 * Every mapping is exactly one external ArrayBuffer; its finalizer unmaps it when collected,
 * and `unmap()` may do so earlier by detaching it (all views then read as empty).
 */
export interface ShmAddon {
  /**
   * Creates a new segment named `prefix` (default "/tb-") plus 32 random hex digits (mode 0600),
   * takes its pages now (posix_fallocate: a full tmpfs is an ENOSPC error here, never a later
   * SIGBUS) and maps it.
   */
  create(byteLength: number, prefix?: string): { name: string; buffer: ArrayBuffer };
  /** Maps an existing segment; the buffer spans the whole segment. */
  open(name: string): ArrayBuffer;
  /** Removes a segment's name; false when it was already gone. Mappings stay valid. */
  unlink(name: string): boolean;
  /** Unmaps now and detaches the buffer; false when the buffer is not a live mapping of ours. */
  unmap(buffer: ArrayBuffer): boolean;
  /** Whether the buffer is a live mapping made by this addon (for zero-copy tests). */
  isMapping(buffer: ArrayBufferLike): boolean;
  /** Where the buffer's bytes start in this process's address space (alignment, zero-copy tests). */
  address(buffer: ArrayBufferLike): number;
  /** Number of mappings not yet unmapped (for leak tests). */
  liveMappings(): number;
  /**
   * An ArrayBuffer over `byteLength` bytes at `address` of this process, which another thread
   * owns and keeps alive until told it is no longer read; collecting it frees nothing. Absent in
   * addons built before it.
   */
  borrow?(address: number, byteLength: number): ArrayBuffer;
}

/** An error from the addon, with an errno-style code ("ENOENT"). */
export interface ShmError extends Error {
  code: string;
}

let addon: ShmAddon | undefined;

/** Loads the addon once (a build from source, else the prebuilt binary); a ConfigError with the fix. */
export function shm(): ShmAddon {
  addon ??= loadShmAddonModule() as ShmAddon;
  return addon;
}
