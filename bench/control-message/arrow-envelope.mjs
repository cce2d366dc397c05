// The Arrow IPC envelope the Python data plane used until 2026-12 (compiled from the former
// src/backends/python/arrow-codec.ts), kept only so bench/control-message can compare it.
import {
  AsyncByteQueue,
  Binary,
  Field,
  FixedSizeList,
  Float16,
  Float32,
  Float64,
  Int8,
  Int16,
  Int32,
  Int64,
  makeData,
  RecordBatch,
  RecordBatchStreamWriter,
  Schema,
  Struct,
  tableFromIPC,
  Uint8,
  Uint16,
  Uint32,
  Uint64,
} from "apache-arrow";
import { DATATYPES, isDatatype } from "../../dist/core/datatypes.js";
import { InternalError } from "../../dist/core/errors.js";
import { Tensor } from "../../dist/core/tensor.js";

const DATATYPE_KEY = "tensorbind.datatype";
const SHAPE_KEY = "tensorbind.shape";
function valueType(datatype) {
  switch (datatype) {
    case "BOOL":
    case "UINT8":
      return new Uint8();
    case "UINT16":
    case "BF16":
      return new Uint16();
    case "UINT32":
      return new Uint32();
    case "UINT64":
      return new Uint64();
    case "INT8":
      return new Int8();
    case "INT16":
      return new Int16();
    case "INT32":
      return new Int32();
    case "INT64":
      return new Int64();
    case "FP16":
      return new Float16();
    case "FP32":
      return new Float32();
    case "FP64":
      return new Float64();
    case "BYTES":
      return new Binary();
  }
}
// Placeholders live in one scratch buffer that is never read: the writer only passes views
// of it to the sink, which recognises them by offset. Untouched pages cost no memory.
let scratch = new ArrayBuffer(1 << 16);
function scratchFor(bytes) {
  if (scratch.byteLength < bytes) scratch = new ArrayBuffer(Math.max(bytes, scratch.byteLength * 2));
  return scratch;
}
class ChunkSink extends AsyncByteQueue {
  chunks = [];
  write(value) {
    if (typeof value === "string") throw new InternalError("unexpected string chunk from the Arrow writer");
    const u8 = ArrayBuffer.isView(value)
      ? new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
      : new Uint8Array(value);
    if (u8.byteLength > 0) this.chunks.push(u8);
  }
}
const sum = (parts) => parts.reduce((n, p) => n + p.byteLength, 0);
/** Lays out one call's inputs as an Arrow stream, ready to be gather-written. */
export function encodeCall(columns) {
  const lengths = columns.map((c) => sum(c.parts));
  const slot = (j) => 8 * j; // distinct, 8-aligned placeholder offsets
  const buf = scratchFor(8 * columns.length + Math.max(0, ...lengths) + 8);
  const fields = [];
  const children = columns.map((col, j) => {
    const len = lengths[j];
    const count = col.shape.reduce((a, b) => a * b, 1);
    const meta = new Map([
      [DATATYPE_KEY, col.datatype],
      [SHAPE_KEY, JSON.stringify(col.shape)],
    ]);
    if (col.datatype === "BYTES" || count === 0) {
      const type = new Binary();
      fields.push(new Field(col.name, type, false, meta));
      const data = new Uint8Array(buf, slot(j), col.datatype === "BYTES" ? len : 0);
      return makeData({
        type,
        length: 1,
        nullCount: 0,
        valueOffsets: Int32Array.of(0, data.byteLength),
        data,
      });
    }
    const info = DATATYPES[col.datatype];
    const itemType = valueType(col.datatype);
    const type = new FixedSizeList(count, new Field("item", itemType, false));
    meta.set("ARROW:extension:name", "arrow.fixed_shape_tensor");
    meta.set("ARROW:extension:metadata", JSON.stringify({ shape: col.shape }));
    fields.push(new Field(col.name, type, false, meta));
    const values = new info.array(buf, slot(j), len / info.size);
    // makeData's overloads are per concrete type; the datatype table guarantees the pairing.
    const props = { type: itemType, length: count, nullCount: 0, data: values };
    const child = makeData(props);
    return makeData({ type, length: 1, nullCount: 0, child });
  });
  const schema = new Schema(fields);
  const batch = new RecordBatch(
    schema,
    makeData({ type: new Struct(schema.fields), length: 1, nullCount: 0, children }),
  );
  const sink = new ChunkSink();
  const writer = new RecordBatchStreamWriter();
  writer.reset(sink, schema);
  writer.write(batch);
  writer.finish();
  const pieces = sink.chunks.map((chunk) => {
    if (chunk.buffer !== buf) return chunk;
    const j = chunk.byteOffset / 8;
    const col = columns[j];
    if (col === undefined || chunk.byteOffset % 8 !== 0 || chunk.byteLength !== lengths[j]) {
      throw new InternalError("Arrow writer produced an unexpected view of a placeholder");
    }
    return col.parts;
  });
  const byteLength = pieces.reduce((n, p) => n + (p instanceof Uint8Array ? p.byteLength : sum(p)), 0);
  return {
    byteLength,
    writeInto(dest) {
      let pos = 0;
      for (const piece of pieces) {
        for (const part of piece instanceof Uint8Array ? [piece] : piece) {
          dest.set(part, pos);
          pos += part.byteLength;
        }
      }
    },
  };
}
/** Reads a call's outputs as Tensors whose bytes are views of `stream` (no copy when aligned). */
export function decodeCall(stream) {
  const table = tableFromIPC(stream);
  const batch = table.batches[0];
  if (batch === undefined) return [];
  return table.schema.fields.map((field, i) => {
    const datatype = field.metadata.get(DATATYPE_KEY);
    const shape = JSON.parse(field.metadata.get(SHAPE_KEY) ?? "null");
    if (!isDatatype(datatype) || !Array.isArray(shape)) {
      throw new InternalError(`worker output '${field.name}' lacks tensorbind metadata`);
    }
    const data = batch.data.children[i];
    let bytes;
    if (data.typeId === new Binary().typeId) {
      const offsets = data.valueOffsets;
      const values = data.values;
      bytes = values.subarray(offsets[data.offset], offsets[data.offset + 1]);
    } else {
      const child = data.children[0];
      const values = child.values;
      const size = DATATYPES[datatype].size;
      bytes = new Uint8Array(values.buffer, values.byteOffset + child.offset * size, child.length * size);
    }
    return new Tensor(field.name, datatype, shape, bytes);
  });
}
