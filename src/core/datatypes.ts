/** The 14 KServe v2 datatypes, with everything the rest of the code needs to know about each. */

export type Datatype =
  | "BOOL"
  | "UINT8"
  | "UINT16"
  | "UINT32"
  | "UINT64"
  | "INT8"
  | "INT16"
  | "INT32"
  | "INT64"
  | "FP16"
  | "BF16"
  | "FP32"
  | "FP64"
  | "BYTES";

/** The typed array a numeric datatype is viewed through. FP16/BF16 are exposed as raw Uint16 words. */
export type NumericArray =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | BigUint64Array
  | BigInt64Array
  | Float32Array
  | Float64Array;

/** The typed array that `.data` gives for each numeric datatype (BOOL as 0/1 bytes, FP16/BF16 as raw words). */
export interface NumericArrayOf {
  BOOL: Uint8Array;
  UINT8: Uint8Array;
  UINT16: Uint16Array;
  UINT32: Uint32Array;
  UINT64: BigUint64Array;
  INT8: Int8Array;
  INT16: Int16Array;
  INT32: Int32Array;
  INT64: BigInt64Array;
  FP16: Uint16Array;
  BF16: Uint16Array;
  FP32: Float32Array;
  FP64: Float64Array;
}

/** What a tensor's `.data` is for datatype `D`: its typed array, or strings for BYTES. */
export type DataOf<D extends Datatype> = D extends keyof NumericArrayOf ? NumericArrayOf[D] : string[];

type ArrayCtor = {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): NumericArray;
  new (length: number): NumericArray;
  readonly BYTES_PER_ELEMENT: number;
};

/** What an element is: like NumPy's dtype kind, so the Python side's table can be checked against it. */
export type DatatypeKind = "bool" | "uint" | "int" | "float" | "bytes";

export interface DatatypeInfo {
  readonly name: Datatype;
  readonly kind: DatatypeKind;
  /** Bytes per element; 0 for BYTES, whose elements have variable length. */
  readonly size: number;
  /** The Triton model-config enum name (`TYPE_FP32`, `TYPE_STRING` for BYTES). */
  readonly configName: string;
  /** The native addon contract's code (tensorbind::DataType in native/include/tensorbind/types.h). */
  readonly nativeCode: number;
  /** Typed array used for views; undefined for BYTES. */
  readonly array: ArrayCtor | undefined;
  /** Whether JSON bodies may carry this type (FP16/BF16 are binary-only). */
  readonly json: boolean;
  /** Elements are 64-bit integers, read as BigInt by typed arrays. */
  readonly bigint: boolean;
  /** Inclusive value range of an integer type (BOOL is not one); undefined otherwise. */
  readonly range: readonly [bigint, bigint] | undefined;
}

function info(
  name: Datatype,
  kind: DatatypeKind,
  size: number,
  nativeCode: number,
  array: ArrayCtor | undefined,
): DatatypeInfo {
  const bits = BigInt(size * 8);
  const range: readonly [bigint, bigint] | undefined =
    kind === "uint"
      ? [0n, (1n << bits) - 1n]
      : kind === "int"
        ? [-(1n << (bits - 1n)), (1n << (bits - 1n)) - 1n]
        : undefined;
  return Object.freeze({
    name,
    kind,
    size,
    configName: name === "BYTES" ? "TYPE_STRING" : `TYPE_${name}`,
    nativeCode,
    array,
    json: !(kind === "float" && size === 2),
    bigint: size === 8 && (kind === "int" || kind === "uint"),
    range,
  });
}

/**
 * The one table of datatypes: validation, JSON decoding, the wire and Arrow codecs and the
 * native contract read it.
 *
 * @example
 * DATATYPES.FP32.size;       // 4
 * DATATYPES.BYTES.configName; // "TYPE_STRING"
 */
export const DATATYPES: Readonly<Record<Datatype, DatatypeInfo>> = Object.freeze({
  BOOL: info("BOOL", "bool", 1, 1, Uint8Array),
  UINT8: info("UINT8", "uint", 1, 2, Uint8Array),
  UINT16: info("UINT16", "uint", 2, 3, Uint16Array),
  UINT32: info("UINT32", "uint", 4, 4, Uint32Array),
  UINT64: info("UINT64", "uint", 8, 5, BigUint64Array),
  INT8: info("INT8", "int", 1, 6, Int8Array),
  INT16: info("INT16", "int", 2, 7, Int16Array),
  INT32: info("INT32", "int", 4, 8, Int32Array),
  INT64: info("INT64", "int", 8, 9, BigInt64Array),
  FP16: info("FP16", "float", 2, 10, Uint16Array),
  BF16: info("BF16", "float", 2, 11, Uint16Array),
  FP32: info("FP32", "float", 4, 12, Float32Array),
  FP64: info("FP64", "float", 8, 13, Float64Array),
  BYTES: info("BYTES", "bytes", 0, 14, undefined),
});

export const DATATYPE_NAMES = Object.keys(DATATYPES) as Datatype[];

export function isDatatype(value: unknown): value is Datatype {
  return typeof value === "string" && Object.hasOwn(DATATYPES, value);
}

/** Maps a Triton config enum (`TYPE_FP32`, `TYPE_STRING`) back to the datatype. */
export function datatypeFromConfigName(configName: string): Datatype | undefined {
  return DATATYPE_NAMES.find((d) => DATATYPES[d].configName === configName);
}

/** Maps a native addon's datatype code back to the datatype. */
export function datatypeFromNativeCode(code: number): Datatype | undefined {
  return DATATYPE_NAMES.find((d) => DATATYPES[d].nativeCode === code);
}
