import { createRequire } from "node:module";
import { ConfigError } from "../core/errors.js";

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

// src/shm/ and dist/shm/ both sit one level below src|dist, two below the package root.
const ADDON_PATH = new URL("../../native/shm/build/Release/tensorbind_shm.node", import.meta.url);

let addon: ClientRegionAddon | undefined;

export function clientRegionAddon(): ClientRegionAddon {
  if (addon === undefined) {
    try {
      addon = createRequire(import.meta.url)(ADDON_PATH.pathname) as ClientRegionAddon;
    } catch (err) {
      throw new ConfigError(
        `the shared-memory addon is not built (${ADDON_PATH.pathname}): run \`npm run build:native\`, or start with --shm-extension off`,
        { cause: err },
      );
    }
    if (typeof addon.openClientRegion !== "function")
      throw new ConfigError("the shared-memory addon is out of date: run `npm run build:native`");
  }
  return addon;
}
