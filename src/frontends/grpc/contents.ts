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

/** The repeated field Triton assigns to a datatype; FP16/BF16 have none (raw only). */
function fieldOf(datatype: Datatype): ContentsField | undefined {
  const { kind, size } = DATATYPES[datatype];
  switch (kind) {
    case "bool":
      return "bool_contents";
    case "uint":
      return size === 8 ? "uint64_contents" : "uint_contents";
    case "int":
      return size === 8 ? "int64_contents" : "int_contents";
    case "float":
      return size === 4 ? "fp32_contents" : size === 8 ? "fp64_contents" : undefined;
    case "bytes":
      return "bytes_contents";
  }
}

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
  const field = fieldOf(datatype);
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
    // 8- and 16-bit types travel in 32-bit fields: nothing may be silently truncated.
    if (info.range !== undefined) {
      const [lo, hi] = [Number(info.range[0]), Number(info.range[1])];
      for (let i = 0; i < count; i++) {
        const v = numbers[i]!;
        if (v < lo || v > hi) {
          throw new InvalidArgumentError(`${what}: value ${v} at index ${i} is out of range for ${datatype}`);
        }
      }
    }
    (out as Float64Array).set(numbers);
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
