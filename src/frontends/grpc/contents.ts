import { encodeBytesElements } from "../../core/bytes-codec.js";
import { DATATYPES, type Datatype } from "../../core/datatypes.js";
import { InvalidArgumentError } from "../../core/errors.js";
import { elementCount, formatShape } from "../../core/shape.js";
import type { InferTensorContentsMsg } from "./messages.js";

/**
 * Typed `contents` (InferTensorContents) → the tensor's wire bytes. This is the slow path
 * (tritonclient and perf_analyzer always send raw_input_contents), kept strict: the values must
 * sit in the one field Triton assigns to the datatype, fill the shape exactly, and fit the
 * datatype's range — nothing is silently truncated.
 */

type ContentsField = keyof InferTensorContentsMsg;

/** The repeated field that carries each datatype; FP16/BF16 have none (raw only). */
const FIELD: Readonly<Record<Datatype, ContentsField | undefined>> = {
  BOOL: "bool_contents",
  UINT8: "uint_contents",
  UINT16: "uint_contents",
  UINT32: "uint_contents",
  UINT64: "uint64_contents",
  INT8: "int_contents",
  INT16: "int_contents",
  INT32: "int_contents",
  INT64: "int64_contents",
  FP16: undefined,
  BF16: undefined,
  FP32: "fp32_contents",
  FP64: "fp64_contents",
  BYTES: "bytes_contents",
};

const FIELDS = Object.keys({
  bool_contents: 0,
  int_contents: 0,
  int64_contents: 0,
  uint_contents: 0,
  uint64_contents: 0,
  fp32_contents: 0,
  fp64_contents: 0,
  bytes_contents: 0,
} satisfies Record<ContentsField, 0>) as ContentsField[];

/** Inclusive ranges of the 8/16-bit types carried in 32-bit fields. */
const RANGE: Partial<Record<Datatype, readonly [number, number]>> = {
  INT8: [-128, 127],
  INT16: [-32768, 32767],
  UINT8: [0, 255],
  UINT16: [0, 65535],
};

/** Whether any typed field holds values (a raw request must have none). */
export function hasTypedContents(contents: InferTensorContentsMsg | null): boolean {
  return contents !== null && FIELDS.some((f) => contents[f].length > 0);
}

export function typedContentsToBytes(
  datatype: Datatype,
  shape: readonly number[],
  contents: InferTensorContentsMsg | null,
  what: string,
): Uint8Array {
  const field = FIELD[datatype];
  if (field === undefined) {
    throw new InvalidArgumentError(`${what}: ${datatype} data can only be sent in raw_input_contents`);
  }
  const count = elementCount(shape, what);
  if (contents !== null) {
    for (const other of FIELDS) {
      if (other !== field && contents[other].length > 0) {
        throw new InvalidArgumentError(
          `${what}: ${datatype} data belongs in contents.${field}, not contents.${other}`,
        );
      }
    }
  }
  const values = contents?.[field] ?? [];
  if (values.length !== count) {
    throw new InvalidArgumentError(
      `${what}: contents.${field} has ${values.length} values, but shape ${formatShape(shape)} needs ${count}`,
    );
  }
  if (datatype === "BYTES") return encodeBytesElements(values as Buffer[]);

  const info = DATATYPES[datatype];
  const out = new info.array!(count);
  if (info.bigint) {
    // int64/uint64 arrive as decimal strings (LOADER_OPTIONS.longs), already in range by construction.
    const strings = values as string[];
    const big = out as BigInt64Array | BigUint64Array;
    for (let i = 0; i < count; i++) big[i] = BigInt(strings[i]!);
  } else if (datatype === "BOOL") {
    const bools = values as boolean[];
    for (let i = 0; i < count; i++) out[i] = bools[i] ? 1 : 0;
  } else {
    const numbers = values as number[];
    const range = RANGE[datatype];
    if (range !== undefined) {
      for (let i = 0; i < count; i++) {
        const v = numbers[i]!;
        if (v < range[0] || v > range[1]) {
          throw new InvalidArgumentError(`${what}: value ${v} at index ${i} is out of range for ${datatype}`);
        }
      }
    }
    (out as Float64Array).set(numbers);
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
