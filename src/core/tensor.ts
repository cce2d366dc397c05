import { type BytesElement, bytesToString, decodeBytesElements, encodeBytesElements } from "./bytes-codec.js";
import { DATATYPES, type DataOf, type Datatype, isDatatype, type NumericArray } from "./datatypes.js";
import { InvalidArgumentError } from "./errors.js";
import { bf16ToNumber, fp16ToNumber, numberToBf16, numberToFp16 } from "./half.js";
import { elementCount, fixedByteSize, formatShape, type Shape } from "./shape.js";
import type { SharedPlacement } from "./shared-placement.js";

/**
 * What `.data` gives: the datatype's typed array (`FP32` → `Float32Array`, `INT64` →
 * `BigInt64Array`, …), strings for BYTES. A `Tensor<"FP32">` (as a model function receives for
 * an input declared `tensor("FP32", …)`) has `.data: Float32Array`.
 */
export type TensorData<D extends Datatype = Datatype> = DataOf<D>;

// Branded through a global symbol so tensors from another copy of the package are recognised.
const TENSOR_BRAND = Symbol.for("tensorbind.tensor");
const EMPTY = new Uint8Array(0);

/**
 * A tensor is a view — name, datatype, shape and bytes — over memory already held (a request
 * body, a shared-memory arena). Nothing is converted to JS numbers until someone asks.
 *
 * @example
 * const t = Tensor.fromArray("FP32", [2, 2], [1, 2, 3, 4]);
 * t.data; // Float32Array [1, 2, 3, 4] — a view, not a copy
 */
export class Tensor<D extends Datatype = Datatype> {
  readonly [TENSOR_BRAND] = true;
  readonly name: string;
  readonly datatype: D;
  readonly shape: readonly number[];
  /** Set when the bytes are a client's shared-memory region (see docs/SHARED_MEMORY.md). */
  readonly placement: SharedPlacement | undefined;
  #bytes: Uint8Array;
  #load: (() => Uint8Array) | undefined;
  #byteLength: number;
  #data: TensorData<D> | undefined;
  #elements: Uint8Array[] | undefined;

  constructor(name: string, datatype: D, shape: Shape, bytes: Uint8Array, placement?: SharedPlacement) {
    this.name = name;
    this.datatype = datatype;
    this.shape = Object.freeze([...shape]);
    this.#bytes = bytes;
    this.#byteLength = bytes.byteLength;
    this.placement = placement;
  }

  /**
   * A tensor whose bytes are fetched on first use: a client's CUDA region, which a model that
   * takes device memory reads in place (only `placement` is used then, and nothing is copied).
   */
  static deferred<D extends Datatype>(
    name: string,
    datatype: D,
    shape: Shape,
    byteLength: number,
    load: () => Uint8Array,
    placement?: SharedPlacement,
  ): Tensor<D> {
    const t = new Tensor(name, datatype, shape, EMPTY, placement);
    t.#load = load;
    t.#byteLength = byteLength;
    return t;
  }

  /** Little-endian, row-major bytes; BYTES tensors hold the u32-length-prefixed wire form. */
  get bytes(): Uint8Array {
    if (this.#load !== undefined) {
      const load = this.#load;
      this.#load = undefined;
      this.#bytes = load();
    }
    return this.#bytes;
  }

  /** Whether the bytes are still where the client put them (not yet fetched to host memory). */
  get deferred(): boolean {
    return this.#load !== undefined;
  }

  get elementCount(): number {
    return elementCount(this.shape, this.name);
  }

  get byteLength(): number {
    return this.#byteLength;
  }

  /**
   * A typed-array view of the bytes (strings for BYTES). The view shares memory with the
   * request when the bytes are aligned for the element size; otherwise it is an aligned copy.
   */
  get data(): TensorData<D> {
    if (this.#data === undefined)
      this.#data = (this.datatype === "BYTES" ? this.strings() : this.typed()) as TensorData<D>;
    return this.#data;
  }

  /** The numeric view; throws for BYTES. FP16/BF16 come as raw Uint16 words (see `toNumbers`). */
  typed(): NumericArray {
    const info = DATATYPES[this.datatype];
    if (info.array === undefined)
      throw new InvalidArgumentError(`${this.name}: BYTES tensors have no numeric view`);
    const n = this.bytes.byteLength / info.size;
    if (this.bytes.byteOffset % info.size === 0)
      return new info.array(this.bytes.buffer, this.bytes.byteOffset, n);
    const copy = new Uint8Array(this.bytes); // unaligned: typed arrays require aligned offsets
    return new info.array(copy.buffer, 0, n);
  }

  /** BYTES elements as views into the tensor's bytes. */
  elements(): Uint8Array[] {
    if (this.datatype !== "BYTES")
      throw new InvalidArgumentError(`${this.name}: only BYTES tensors have elements`);
    this.#elements ??= decodeBytesElements(this.bytes, this.elementCount, this.name);
    return this.#elements;
  }

  /** BYTES elements decoded as UTF-8 strings. */
  strings(): string[] {
    return this.elements().map(bytesToString);
  }

  /**
   * Plain JS values, flat and row-major: numbers (FP16/BF16 widened, 64-bit integers as
   * numbers when safe, else bigint), booleans for BOOL, strings for BYTES.
   */
  toArray(): (number | bigint | boolean | string)[] {
    switch (this.datatype) {
      case "BYTES":
        return this.strings();
      case "BOOL":
        return Array.from(this.typed() as Uint8Array, (v) => v !== 0);
      case "FP16":
        return Array.from(this.typed() as Uint16Array, fp16ToNumber);
      case "BF16":
        return Array.from(this.typed() as Uint16Array, bf16ToNumber);
      case "INT64":
      case "UINT64":
        return Array.from(this.typed() as BigInt64Array, (v) =>
          v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v,
        );
      default:
        return Array.from(this.typed() as Float64Array);
    }
  }

  /** Same bytes under another name (outputs are often inputs renamed). */
  rename(name: string): Tensor<D> {
    if (this.#load !== undefined)
      return Tensor.deferred(
        name,
        this.datatype,
        this.shape,
        this.#byteLength,
        () => this.bytes,
        this.placement,
      );
    return new Tensor(name, this.datatype, this.shape, this.bytes, this.placement);
  }

  toString(): string {
    return `Tensor(${this.name}, ${this.datatype}, ${formatShape(this.shape)})`;
  }

  static isTensor(value: unknown): value is Tensor {
    return (
      typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[TENSOR_BRAND] === true
    );
  }

  /**
   * Builds a tensor from JS values: numbers, booleans, bigints or strings (BYTES). FP16/BF16
   * values are rounded to half precision.
   *
   * @example
   * Tensor.fromArray("INT32", [1, 3], [1, 2, 3], "OUTPUT0")
   */
  static fromArray<D extends Datatype>(
    datatype: D,
    shape: Shape,
    values: ArrayLike<number | bigint | boolean | string | Uint8Array> | Iterable<number>,
    name = "",
  ): Tensor<D> {
    if (!isDatatype(datatype)) throw new InvalidArgumentError(`unknown datatype ${String(datatype)}`);
    const list = Array.from(values as ArrayLike<unknown>);
    const count = elementCount(shape, name || "tensor");
    if (list.length !== count) {
      throw new InvalidArgumentError(
        `${name || "tensor"}: ${list.length} values do not fill shape ${formatShape(shape)} (${count} elements)`,
      );
    }
    if (datatype === "BYTES") {
      return new Tensor(name, datatype, shape, encodeBytesElements(list.map(toBytesElement)));
    }
    const info = DATATYPES[datatype];
    const arr = new info.array!(count);
    for (let i = 0; i < count; i++) arr[i] = convertScalar(datatype, list[i]) as never;
    return new Tensor(name, datatype, shape, new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength));
  }

  /** Wraps a typed array as a tensor without copying it. */
  static fromTyped<D extends Datatype>(datatype: D, shape: Shape, data: NumericArray, name = ""): Tensor<D> {
    const expected = fixedByteSize(datatype, shape, name || "tensor");
    if (expected === undefined) throw new InvalidArgumentError("use Tensor.fromStrings for BYTES tensors");
    if (data.byteLength !== expected) {
      throw new InvalidArgumentError(
        `${name || "tensor"}: ${data.byteLength} bytes do not match ${datatype} ${formatShape(shape)} (${expected} bytes)`,
      );
    }
    return new Tensor(name, datatype, shape, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }

  /** A BYTES tensor from strings (UTF-8) or raw byte strings. */
  static fromStrings(shape: Shape, values: readonly BytesElement[], name = ""): Tensor<"BYTES"> {
    return Tensor.fromArray("BYTES", shape, values, name);
  }
}

function toBytesElement(v: unknown): BytesElement {
  if (typeof v === "string" || v instanceof Uint8Array) return v;
  return String(v);
}

function convertScalar(datatype: Datatype, v: unknown): number | bigint {
  switch (datatype) {
    case "BOOL":
      return v ? 1 : 0;
    case "INT64":
    case "UINT64":
      if (typeof v === "bigint") return datatype === "INT64" ? BigInt.asIntN(64, v) : BigInt.asUintN(64, v);
      if (typeof v === "number" && Number.isInteger(v)) return BigInt(v);
      if (typeof v === "boolean") return v ? 1n : 0n;
      throw new InvalidArgumentError(`${datatype} value ${String(v)} is not an integer`);
    case "FP16":
      return numberToFp16(Number(v));
    case "BF16":
      return numberToBf16(Number(v));
    default:
      return Number(v);
  }
}
