import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { ConfigError } from "./errors.js";

// src/core/ and dist/core/ both sit one level below src/ (dist/), two below the package root.
const ADDON_DIR = new URL("../../native/shm/", import.meta.url);

/**
 * Where the shared-memory addon is looked for, in order: a build from source (`npm run
 * build:native`, or `npm install`'s build where a compiler exists), then the binary prebuilt for
 * this platform that the npm package ships (scripts/prebuild-addon.sh). Node-API keeps one binary
 * good for every Node version.
 */
export function shmAddonCandidates(): string[] {
  return [
    fileURLToPath(new URL("build/Release/tensorbind_shm.node", ADDON_DIR)),
    fileURLToPath(
      new URL(`prebuilds/${process.platform}-${process.arch}/tensorbind_shm.napi.glibc.node`, ADDON_DIR),
    ),
  ];
}

/** The fix, in one line, for every way the addon can be missing. */
export const SHM_ADDON_FIX =
  "install CMake and a C++17 compiler, then run `npm rebuild tensorbind` (in a checkout: `npm run build:native`)";

let loaded: unknown;

/** Loads the addon once (the first candidate that loads); a ConfigError with the fix if none does. */
export function loadShmAddonModule(): unknown {
  if (loaded !== undefined) return loaded;
  const tried: string[] = [];
  const require = createRequire(import.meta.url);
  for (const path of shmAddonCandidates()) {
    if (!existsSync(path)) {
      tried.push(`${path}: absent`);
      continue;
    }
    try {
      loaded = require(path);
      return loaded;
    } catch (err) {
      tried.push(`${path}: ${(err as Error).message.split("\n")[0]}`);
    }
  }
  throw new ConfigError(
    `the shared-memory addon (native/shm) did not load, and Python models and shared-memory regions need it: ${SHM_ADDON_FIX}. Tried ${tried.join("; ")}`,
  );
}

/**
 * The addon when it loads and exports `fn` (a build from before `fn` existed does not), else
 * undefined: for the features that have a JavaScript fallback. Callers cache the answer.
 */
export function optionalShmAddon<T>(fn: keyof T & string): T | undefined {
  try {
    const addon = loadShmAddonModule() as Record<string, unknown>;
    return typeof addon[fn] === "function" ? (addon as T) : undefined;
  } catch {
    return undefined;
  }
}
