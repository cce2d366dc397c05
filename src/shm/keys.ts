import { InvalidArgumentError } from "../core/errors.js";

/** Prefix of the server's own arenas (native/shm RandomSegmentName): never a client's key. */
const SERVER_SEGMENT_PREFIX = "tb-";

/**
 * A client's key must be a plain POSIX shared-memory name: one optional leading "/", then
 * letters, digits, ".", "_", "-" (no other "/", no "..", nothing that resolves to a path).
 * Returns the name as shm_open takes it (with the leading "/").
 */
export function checkedKey(key: unknown): string {
  if (typeof key !== "string" || key === "")
    throw new InvalidArgumentError("shared-memory key must be a non-empty string");
  const bare = key.startsWith("/") ? key.slice(1) : key;
  if (
    bare.length === 0 ||
    bare.length > 250 ||
    !/^[A-Za-z0-9._-]+$/.test(bare) ||
    bare === "." ||
    bare.includes("..")
  ) {
    throw new InvalidArgumentError(
      `invalid shared-memory key '${printable(key)}': a key is a plain name ([A-Za-z0-9._-], an optional leading '/'), not a path`,
    );
  }
  if (bare.startsWith(SERVER_SEGMENT_PREFIX))
    throw new InvalidArgumentError(`shared-memory key '${key}' is reserved for the server's own segments`);
  return `/${bare}`;
}

/** Region names appear in URLs and logs: same alphabet as keys, plus a few separators. */
export function checkedRegionName(name: unknown): string {
  if (typeof name !== "string" || name === "" || name.length > 256 || /[\u0000-\u001f\u007f]/.test(name))
    throw new InvalidArgumentError(
      "a shared-memory region name must be a non-empty printable string of at most 256 characters",
    );
  return name;
}

function printable(s: string): string {
  return s.length > 64 ? `${JSON.stringify(s.slice(0, 64)).slice(1, -1)}…` : JSON.stringify(s).slice(1, -1);
}
