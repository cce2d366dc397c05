import { DATATYPES } from "../../../core/datatypes.js";
import { InvalidArgumentError } from "../../../core/errors.js";
import { formatShape } from "../../../core/shape.js";
import { Tensor } from "../../../core/tensor.js";

/**
 * Row operations along the batch (first) dimension, for the batching decorators. Slices are
 * views; concatenation and gathers copy once. BYTES tensors are handled through their
 * length-prefixed wire form.
 */

export function rowCount(t: Tensor): number {
  const n = t.shape[0];
  if (n === undefined) throw new InvalidArgumentError(`${t.name || "tensor"} has no batch dimension`);
  return n;
}

/** Byte offset of every row boundary (rows + 1 entries). */
function rowOffsets(t: Tensor): number[] {
  const rows = rowCount(t);
  const perRow = t.shape.slice(1).reduce((a, b) => a * b, 1);
  const offsets = [0];
  if (t.datatype !== "BYTES") {
    const rowBytes = perRow * DATATYPES[t.datatype].size;
    for (let r = 1; r <= rows; r++) offsets.push(r * rowBytes);
    return offsets;
  }
  const view = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
  let pos = 0;
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < perRow; k++) {
      if (pos + 4 > t.bytes.byteLength) throw new InvalidArgumentError(`${t.name}: truncated BYTES tensor`);
      pos += 4 + view.getUint32(pos, true);
    }
    offsets.push(pos);
  }
  return offsets;
}

/** Row r of `t` as a Buffer view of its bytes; the row offsets are computed once per tensor. */
export function rowViews(t: Tensor): (row: number) => Buffer {
  const offsets = rowOffsets(t);
  const all = Buffer.from(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
  return (r) => all.subarray(offsets[r], offsets[r + 1]);
}

/** Rows [start, start + count) as a view. */
export function sliceRows(t: Tensor, start: number, count: number, offsets = rowOffsets(t)): Tensor {
  const from = offsets[start];
  const to = offsets[start + count];
  if (from === undefined || to === undefined) {
    throw new InvalidArgumentError(
      `${t.name}: rows ${start}..${start + count} are out of range ${formatShape(t.shape)}`,
    );
  }
  return new Tensor(t.name, t.datatype, [count, ...t.shape.slice(1)], t.bytes.subarray(from, to));
}

/** Splits a tensor into consecutive row blocks of the given sizes (views). */
export function splitRows(t: Tensor, sizes: readonly number[]): Tensor[] {
  const offsets = rowOffsets(t);
  let start = 0;
  return sizes.map((n) => {
    const part = sliceRows(t, start, n, offsets);
    start += n;
    return part;
  });
}

/** Concatenates tensors along the batch dimension (one copy; a single tensor is returned as is). */
export function concatRows(parts: readonly Tensor[], name = parts[0]?.name ?? ""): Tensor {
  const first = parts[0];
  if (first === undefined) throw new InvalidArgumentError("nothing to concatenate");
  if (parts.length === 1) return first;
  const rest = first.shape.slice(1);
  let rows = 0;
  let bytes = 0;
  for (const p of parts) {
    if (p.datatype !== first.datatype) {
      throw new InvalidArgumentError(
        `cannot batch '${name}': datatypes ${first.datatype} and ${p.datatype} differ`,
      );
    }
    if (p.shape.length !== first.shape.length || p.shape.some((d, i) => i > 0 && d !== rest[i - 1])) {
      throw new InvalidArgumentError(
        `cannot batch '${name}': shapes ${formatShape(first.shape)} and ${formatShape(p.shape)} differ beyond the batch dimension`,
      );
    }
    rows += rowCount(p);
    bytes += p.bytes.byteLength;
  }
  const out = new Uint8Array(bytes);
  let pos = 0;
  for (const p of parts) {
    out.set(p.bytes, pos);
    pos += p.bytes.byteLength;
  }
  return new Tensor(name, first.datatype, [rows, ...rest], out);
}

/** The given rows, in the given order (one copy). */
export function takeRows(t: Tensor, indices: readonly number[]): Tensor {
  const offsets = rowOffsets(t);
  let bytes = 0;
  for (const i of indices) bytes += offsets[i + 1]! - offsets[i]!;
  const out = new Uint8Array(bytes);
  let pos = 0;
  for (const i of indices) {
    const from = offsets[i]!;
    const to = offsets[i + 1];
    if (to === undefined) throw new InvalidArgumentError(`${t.name}: row ${i} is out of range`);
    out.set(t.bytes.subarray(from, to), pos);
    pos += to - from;
  }
  return new Tensor(t.name, t.datatype, [indices.length, ...t.shape.slice(1)], out);
}

/** Places the rows of each part at the given row indices of a new tensor of `rows` rows. */
export function scatterRows(
  parts: readonly { indices: readonly number[]; tensor: Tensor }[],
  rows: number,
): Tensor {
  const first = parts[0]?.tensor;
  if (first === undefined) throw new InvalidArgumentError("nothing to gather");
  const order: { tensor: Tensor; row: number; offsets: number[] }[] = new Array(rows);
  for (const { indices, tensor } of parts) {
    if (tensor.datatype !== first.datatype || tensor.shape.slice(1).join() !== first.shape.slice(1).join()) {
      throw new InvalidArgumentError(
        `output '${first.name}': groups returned ${formatShape(first.shape)} and ${formatShape(tensor.shape)}; pad them to one shape (padFn)`,
      );
    }
    if (rowCount(tensor) !== indices.length) {
      throw new InvalidArgumentError(
        `output '${first.name}': a group of ${indices.length} rows returned ${rowCount(tensor)}`,
      );
    }
    const offsets = rowOffsets(tensor);
    indices.forEach((target, row) => {
      order[target] = { tensor, row, offsets };
    });
  }
  let bytes = 0;
  for (const o of order) bytes += o.offsets[o.row + 1]! - o.offsets[o.row]!;
  const out = new Uint8Array(bytes);
  let pos = 0;
  for (const o of order) {
    const from = o.offsets[o.row]!;
    const to = o.offsets[o.row + 1]!;
    out.set(o.tensor.bytes.subarray(from, to), pos);
    pos += to - from;
  }
  return new Tensor(first.name, first.datatype, [rows, ...first.shape.slice(1)], out);
}

/** Repeats a tensor `times` times along a new leading batch dimension (for defaults without one). */
export function tileRows(t: Tensor, times: number, name = t.name): Tensor {
  const out = new Uint8Array(t.bytes.byteLength * times);
  for (let i = 0; i < times; i++) out.set(t.bytes, i * t.bytes.byteLength);
  return new Tensor(name, t.datatype, [times, ...t.shape], out);
}
