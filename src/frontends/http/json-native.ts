import { optionalShmAddon } from "../../core/shm-addon-module.js";

/**
 * The JSON number functions of the native addon (native/shm/src/json_numbers.h): a tensor's
 * `data` array formatted from, and read into, its bytes without a JavaScript value per element.
 * Datatypes are the KServe names JSON numbers carry (BOOL, the integers, FP32, FP64).
 */
/** The array text body[begin, end), its datatype and element count, where to read it into. */
type ParseArrayArgs = [
  body: Uint8Array,
  begin: number,
  end: number,
  datatype: string,
  count: number,
  maxDepth: number,
  out: Uint8Array,
];

export interface JsonNumbersAddon {
  /** `[v0,v1,...]` as UTF-8: floats as the shortest text of their own width, -0 as -0.0, NaN/Inf as null. */
  formatJsonArray(bytes: Uint8Array, datatype: string): Buffer;
  /**
   * Reads the array text body[begin, end) into `out` (count elements, nesting at most maxDepth
   * levels below the top one); false, for anything but well-formed in-range values, leaves the
   * decision (and the error message) to the JavaScript path.
   */
  parseJsonArray(...args: ParseArrayArgs): boolean;
  /** [inputIndex, begin, end, ...] of each inputs[i].data array in body[0, end); null when ambiguous. */
  scanJsonInputData(body: Uint8Array, end: number): number[] | null;
  /** scanJsonInputData on a libuv pool thread: `body` must stay unchanged until it settles. */
  scanJsonInputDataAsync(body: Uint8Array, end: number): Promise<number[] | null>;
  /** parseJsonArray on a libuv pool thread: `body` and `out` must stay unchanged until it settles. */
  parseJsonArrayAsync(...args: ParseArrayArgs): Promise<boolean>;
  /** formatJsonArray on a libuv pool thread: `bytes` must stay valid until it settles. */
  formatJsonArrayAsync(bytes: Uint8Array, datatype: string): Promise<Buffer>;
}

let cached: JsonNumbersAddon | null | undefined;

/** The addon's JSON functions, or undefined where it is absent or older (JavaScript then does it all). */
export function jsonNumbersAddon(): JsonNumbersAddon | undefined {
  cached ??= optionalShmAddon<JsonNumbersAddon>("scanJsonInputDataAsync") ?? null;
  return cached ?? undefined;
}
