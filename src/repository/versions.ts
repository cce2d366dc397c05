import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../core/errors.js";
import type { JsonObject } from "./pbtxt.js";

/** The numeric version directories of a model directory, ascending. */
export function versionDirectories(modelDir: string): number[] {
  const versions: number[] = [];
  for (const entry of readdirSync(modelDir)) {
    if (!/^[1-9][0-9]*$/.test(entry)) continue;
    if (statSync(join(modelDir, entry)).isDirectory()) versions.push(Number(entry));
  }
  return versions.sort((a, b) => a - b);
}

/**
 * The versions the config's `version_policy` serves out of those present: `latest`
 * (num_versions highest, default 1), `all`, or `specific` (each must exist).
 */
export function selectVersions(present: readonly number[], config: JsonObject, file: string): number[] {
  const policy: JsonObject = (config.version_policy as JsonObject | undefined) ?? { latest: {} };
  if (present.length === 0)
    throw new ConfigError(`${file}: the model has no version directory (e.g. ${join("<model>", "1")})`);
  if (policy.all !== undefined) return [...present];
  if (policy.specific !== undefined) {
    const wanted = ((policy.specific as JsonObject).versions as number[] | undefined) ?? [];
    const missing = wanted.filter((v) => !present.includes(v));
    if (missing.length > 0)
      throw new ConfigError(
        `${file}: version_policy names version(s) ${missing.join(", ")} that have no directory`,
      );
    return [...wanted].sort((a, b) => a - b);
  }
  const n = ((policy.latest as JsonObject | undefined)?.num_versions as number | undefined) || 1;
  return present.slice(-n);
}
