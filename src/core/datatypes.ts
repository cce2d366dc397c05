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

type ArrayCtor = {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): NumericArray;
  new (length: number): NumericArray;
  readonly BYTES_PER_ELEMENT: number;
};

export interface DatatypeInfo {
  readonly name: Datatype;
  /** Bytes per element; 0 for BYTES, whose elements have variable length. */
  readonly size: number;
  /** The Triton model-config enum name (`TYPE_FP32`, `TYPE_STRING` for BYTES). */
  readonly configName: string;
  /** Typed array used for views; undefined for BYTES. */
  readonly array: ArrayCtor | undefined;
  /** Whether JSON bodies may carry this type (FP16/BF16 are binary-only). */
  readonly json: boolean;
  /** Elements are 64-bit integers, read as BigInt by typed arrays. */
  readonly bigint: boolean;
}

const info = (
  name: Datatype,
  size: number,
  array: ArrayCtor | undefined,
  extra: { configName?: string; json?: boolean; bigint?: boolean } = {},
): DatatypeInfo => ({
  name,
  size,
  array,
  configName: extra.configName ?? `TYPE_${name}`,
  json: extra.json ?? true,
  bigint: extra.bigint ?? false,
});

export const DATATYPES: Readonly<Record<Datatype, DatatypeInfo>> = Object.freeze({
  BOOL: info("BOOL", 1, Uint8Array),
  UINT8: info("UINT8", 1, Uint8Array),
  UINT16: info("UINT16", 2, Uint16Array),
  UINT32: info("UINT32", 4, Uint32Array),
  UINT64: info("UINT64", 8, BigUint64Array, { bigint: true }),
  INT8: info("INT8", 1, Int8Array),
  INT16: info("INT16", 2, Int16Array),
  INT32: info("INT32", 4, Int32Array),
  INT64: info("INT64", 8, BigInt64Array, { bigint: true }),
  FP16: info("FP16", 2, Uint16Array, { json: false }),
  BF16: info("BF16", 2, Uint16Array, { json: false }),
  FP32: info("FP32", 4, Float32Array),
  FP64: info("FP64", 8, Float64Array),
  BYTES: info("BYTES", 0, undefined, { configName: "TYPE_STRING" }),
});

export const DATATYPE_NAMES = Object.keys(DATATYPES) as Datatype[];

export function isDatatype(value: unknown): value is Datatype {
  return typeof value === "string" && Object.hasOwn(DATATYPES, value);
}

/** Maps a Triton config enum (`TYPE_FP32`, `TYPE_STRING`) back to the datatype. */
export function datatypeFromConfigName(configName: string): Datatype | undefined {
  return DATATYPE_NAMES.find((d) => DATATYPES[d].configName === configName);
}
