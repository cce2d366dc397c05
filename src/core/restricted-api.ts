import { createHash, timingSafeEqual } from "node:crypto";
import { ConfigError, PermissionDeniedError } from "./errors.js";

/**
 * Triton's restricted APIs (--http-restricted-api / --grpc-restricted-api): a group of
 * endpoints answers only requests that carry a given header (gRPC: metadata) with a given value.
 */
export const API_GROUPS = [
  "health",
  "metadata",
  "inference",
  "shared-memory",
  "model-config",
  "model-repository",
  "statistics",
  "trace",
  "logging",
] as const;
export type ApiGroup = (typeof API_GROUPS)[number];

export interface ApiRestriction {
  readonly groups: ReadonlySet<ApiGroup>;
  /** Lower-case header name. */
  readonly header: string;
  readonly value: string;
}

/** Parses `group[,group…]:header=value` (Triton's syntax); several specs may be given. */
export function parseRestrictedApi(spec: string): ApiRestriction {
  const m = /^([a-z,-]+):([^=\s]+)=(.+)$/.exec(spec.trim());
  if (!m) throw new ConfigError(`invalid restricted API '${spec}': use <api>[,<api>…]:<header>=<value>`);
  const groups = new Set<ApiGroup>();
  for (const g of m[1]!.split(",")) {
    if (!(API_GROUPS as readonly string[]).includes(g))
      throw new ConfigError(`invalid restricted API group '${g}': one of ${API_GROUPS.join(", ")}`);
    groups.add(g as ApiGroup);
  }
  return { groups, header: m[2]!.toLowerCase(), value: m[3]! };
}

/** Throws PermissionDeniedError unless every restriction covering `group` is met. */
export function checkRestricted(
  restrictions: readonly ApiRestriction[],
  group: ApiGroup,
  header: (name: string) => unknown,
): void {
  for (const r of restrictions) {
    if (!r.groups.has(group)) continue;
    const v = header(r.header);
    const got = Array.isArray(v) ? v[0] : v;
    const text = typeof got === "string" ? got : Buffer.isBuffer(got) ? got.toString("utf8") : undefined;
    if (text === undefined || !sameSecret(text, r.value))
      throw new PermissionDeniedError(`This API is restricted, expecting header '${r.header}'`);
  }
}

/** Constant-time comparison of two secrets: fixed-length digests, so lengths leak nothing either. */
export function sameSecret(a: string, b: string): boolean {
  const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();
  return timingSafeEqual(digest(a), digest(b));
}
