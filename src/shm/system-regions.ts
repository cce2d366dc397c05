import { InvalidArgumentError, ResourceExhaustedError } from "../core/errors.js";
import {
  announceRegionUnmapped,
  type SharedMemoryRef,
  type SharedView,
  type SystemRegionStatus,
} from "../core/shared-memory.js";
import { type ClientRegionAddon, clientRegionAddon } from "./addon.js";
import { checkedKey, checkedRegionName } from "./keys.js";

interface SystemRegion {
  readonly name: string;
  readonly key: string;
  readonly offset: number;
  readonly byteSize: number;
  readonly buffer: ArrayBuffer;
  readonly handle: object;
  /** Requests holding a view; the mapping outlives an unregister until they are done. */
  users: number;
  unregistered: boolean;
}

/** Registration fields as they come off the wire (validated here, not in the frontends). */
export interface SystemRegistration {
  readonly name: unknown;
  readonly key: unknown;
  readonly offset: unknown;
  readonly byteSize: unknown;
}

/**
 * Clients' POSIX shared-memory regions: each registration maps the client's segment once;
 * requests get views of it after a bounds check; unregister (and close) unmap it as soon as
 * no request holds a view any more.
 */
export class SystemRegions {
  readonly #regions = new Map<string, SystemRegion>();
  readonly #maxRegions: number;
  readonly #showKeys: boolean;
  #addon: ClientRegionAddon | undefined;

  constructor(options: { maxRegions: number; showKeys: boolean }) {
    this.#maxRegions = options.maxRegions;
    this.#showKeys = options.showKeys;
  }

  has(name: string): boolean {
    return this.#regions.has(name);
  }

  get size(): number {
    return this.#regions.size;
  }

  register(r: SystemRegistration, nameTaken: (name: string) => boolean): void {
    const name = checkedRegionName(r.name);
    const key = checkedKey(r.key);
    const offset = wireInteger(r.offset, "offset");
    const byteSize = wireInteger(r.byteSize, "byte_size");
    if (byteSize === 0) throw new InvalidArgumentError("shared-memory region byte_size must be positive");
    if (nameTaken(name)) throw new InvalidArgumentError(`shared memory region '${name}' already in manager`);
    if (this.#regions.size >= this.#maxRegions)
      throw new ResourceExhaustedError(
        `too many shared-memory regions registered (limit ${this.#maxRegions})`,
      );
    this.#addon ??= clientRegionAddon();
    let opened: { buffer: ArrayBuffer; handle: object };
    try {
      opened = this.#addon.openClientRegion(key);
    } catch (err) {
      const code = (err as { code?: string }).code ?? "";
      throw new InvalidArgumentError(
        `Unable to open shared memory region '${name}' (key '${key}'): ${code === "ENOENT" ? "no such segment" : code || "cannot map it"}`,
      );
    }
    const length = opened.buffer.byteLength;
    if (offset > length || byteSize > length - offset) {
      this.#addon.unmap(opened.buffer);
      this.#addon.closeRegion(opened.handle);
      throw new InvalidArgumentError(
        `shared memory region '${name}': offset ${offset} + byte_size ${byteSize} is past the end of the segment (${length} bytes)`,
      );
    }
    this.#regions.set(name, { name, key, offset, byteSize, ...opened, users: 0, unregistered: false });
  }

  status(name?: string): SystemRegionStatus[] {
    const list =
      name === undefined
        ? [...this.#regions.values()]
        : [this.#regions.get(name) ?? unknownRegion(name, "system")];
    return list.map((r) => ({
      name: r.name,
      key: this.#showKeys ? r.key : "",
      offset: r.offset,
      byte_size: r.byteSize,
    }));
  }

  /** Unregistering a name that is not registered is not an error (as in Triton). */
  unregister(name?: string): void {
    const names = name === undefined ? [...this.#regions.keys()] : [name];
    for (const n of names) {
      const r = this.#regions.get(n);
      if (r === undefined) continue;
      this.#regions.delete(n);
      r.unregistered = true;
      if (r.users === 0) this.#unmap(r);
    }
  }

  /** A view of `ref` in a registered region, bounds-checked against the registration and the segment. */
  view(ref: SharedMemoryRef, what: string): SharedView | undefined {
    const r = this.#regions.get(ref.region);
    if (r === undefined) return undefined;
    if (ref.offset > r.byteSize || ref.byteSize > r.byteSize - ref.offset) {
      throw new InvalidArgumentError(
        `${what}: shared_memory_offset ${ref.offset} + shared_memory_byte_size ${ref.byteSize} is past the end of region '${r.name}' (${r.byteSize} bytes)`,
      );
    }
    // A client that shrank its segment would make a read of the mapping past the new end fault.
    const now = this.#addon!.regionSize(r.handle);
    if (now < r.offset + r.byteSize) {
      throw new InvalidArgumentError(
        `${what}: the segment of shared memory region '${r.name}' shrank to ${now} bytes; unregister and register it again`,
      );
    }
    const start = r.offset + ref.offset;
    r.users++;
    let released = false;
    return {
      bytes: new Uint8Array(r.buffer, start, ref.byteSize),
      placement: { kind: "system", key: r.key, offset: start, byteSize: ref.byteSize },
      release: () => {
        if (released) return;
        released = true;
        r.users--;
        if (r.unregistered && r.users === 0) this.#unmap(r);
      },
    };
  }

  /** Live mappings of clients' regions (registered, or unregistered but still in use). */
  close(): void {
    for (const r of this.#regions.values()) {
      r.unregistered = true;
      this.#unmap(r);
    }
    this.#regions.clear();
  }

  #unmap(r: SystemRegion): void {
    this.#addon?.unmap(r.buffer);
    this.#addon?.closeRegion(r.handle);
    announceRegionUnmapped(r.key);
  }
}

/** An offset or size from a register call: a non-negative safe integer (JSON number or uint64 from gRPC). */
export function wireInteger(v: unknown, field: string): number {
  const n =
    typeof v === "bigint"
      ? v >= 0n && v <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(v)
        : -1
      : typeof v === "string" && /^[0-9]{1,16}$/.test(v)
        ? Number(v)
        : v;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0)
    throw new InvalidArgumentError(`shared-memory ${field} must be a non-negative integer, got ${String(v)}`);
  return n;
}

export function unknownRegion(name: string, kind: "system" | "cuda"): never {
  throw new InvalidArgumentError(`Unable to find ${kind} shared memory region: '${name}'`);
}
