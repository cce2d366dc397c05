import { DATATYPES, type Datatype } from "../../core/datatypes.js";
import { elementCount } from "../../core/shape.js";
import { jsonDataToBytes } from "./json-data.js";
import { jsonNumbersAddon } from "./json-native.js";
import { parseJson } from "./json-parse.js";

/**
 * Large JSON infer bodies without a JavaScript array of their numbers: the addon finds each
 * `inputs[i].data` array in the body's bytes, JSON.parse reads the rest (each such array replaced
 * by `[]`), and the arrays are read from the bytes straight into typed arrays. Anything the fast
 * path does not take exactly as the general one would (an escaped or repeated key, a value out of
 * range, a count that does not match) sends the request down the general path, which gives the
 * precise error: the two accept the same requests and decode them to the same bytes.
 */

/** JSON parts at least this large take the scan (below it JSON.parse is as fast). */
export const JSON_SCAN_MIN_BYTES = 16 * 1024;

export interface ScannedHeader {
  /** The parsed JSON with every scanned `data` array as `[]`. */
  readonly header: unknown;
  /** inputs[i] → where its `data` array lies in the body. */
  readonly data: ReadonlyMap<number, { readonly begin: number; readonly end: number }>;
  /** inputs[i] → its bytes, read already off the event loop (json-offload.ts), with the datatype and shape read for. */
  readonly decoded?: ReadonlyMap<
    number,
    { readonly datatype: string; readonly shape: string; readonly bytes: Uint8Array }
  >;
}

/** The scanned header of body[0, length), or undefined where the general path must parse it. */
export function scanJsonHeader(body: Buffer, length: number): ScannedHeader | undefined {
  const addon = jsonNumbersAddon();
  if (addon === undefined) return undefined;
  return spliceScanned(body, length, addon.scanJsonInputData(body, length));
}

/** The header of body[0, length) parsed with the `data` arrays the scan `found` replaced by `[]`. */
export function spliceScanned(
  body: Buffer,
  length: number,
  found: number[] | null,
): ScannedHeader | undefined {
  if (found === null || found.length === 0) return undefined;
  const parts: string[] = [];
  const data = new Map<number, { begin: number; end: number }>();
  let pos = 0;
  for (let i = 0; i < found.length; i += 3) {
    const begin = found[i + 1]!;
    const end = found[i + 2]!;
    data.set(found[i]!, { begin, end });
    parts.push(body.toString("utf8", pos, begin), "[]");
    pos = end;
  }
  parts.push(body.toString("utf8", pos, length));
  try {
    return { header: parseJson(parts.join("")), data };
  } catch {
    return undefined; // malformed: the general path reports it as it always has
  }
}

/** Thrown where the fast path meets text it leaves to the general path (to parse and report). */
export class TakeGeneralPath extends Error {}

/**
 * The bytes of a scanned `data` array: read by the addon where it takes the values as they are;
 * otherwise (BYTES, a value it declines) parsed alone and checked as the general path checks it,
 * with the same errors.
 */
export function decodeScannedData(
  body: Buffer,
  range: { readonly begin: number; readonly end: number },
  datatype: Datatype,
  shape: readonly number[],
  what: string,
): Uint8Array {
  const info = DATATYPES[datatype];
  const addon = jsonNumbersAddon();
  if (info.json && info.array !== undefined && addon !== undefined) {
    const count = elementCount(shape, what);
    const out = new Uint8Array(count * info.size);
    if (addon.parseJsonArray(body, range.begin, range.end, datatype, count, shape.length - 1, out))
      return out;
  }
  let data: unknown;
  try {
    data = parseJson(body.toString("utf8", range.begin, range.end));
  } catch {
    throw new TakeGeneralPath(); // malformed: reported with its position in the whole body
  }
  return jsonDataToBytes(datatype, shape, data, what);
}
