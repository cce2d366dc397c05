/**
 * A short rendering of a value from a client's JSON for an error message. It never recurses
 * and never throws (String() of an array nested 100 000 deep overflows the stack, and
 * JSON.stringify throws on a BigInt), so a hostile body cannot turn a 400 into a 500.
 */
export function describeValue(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  switch (typeof v) {
    case "string":
      return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
    case "number":
    case "boolean":
      return String(v);
    case "bigint": {
      const s = v.toString();
      return s.length > 40 ? `${s.slice(0, 40)}…` : s;
    }
    case "object":
      return "an object";
    default:
      return typeof v;
  }
}
