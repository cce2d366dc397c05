// NumPy .npy arrays (format 1.0/2.0, little-endian, C order) for the event files and streams
// of traccc-gen: <i8, <f4 and <f8 only.

export type NpyData = BigInt64Array | Float32Array | Float64Array;

export interface NpyArray {
  readonly dtype: "<i8" | "<f4" | "<f8";
  readonly shape: readonly number[];
  readonly data: NpyData;
}

const MAGIC = "\x93NUMPY";

/** Parses one array at `offset`; returns it and the offset just after it. */
export function parseNpy(buf: Uint8Array, offset = 0): { array: NpyArray; next: number } {
  const head = Buffer.from(buf.buffer, buf.byteOffset + offset, Math.min(10, buf.byteLength - offset));
  if (head.length < 10 || head.toString("latin1", 0, 6) !== MAGIC)
    throw new Error(`npy: bad magic at byte ${offset}`);
  const major = head[6]!;
  const view = new DataView(buf.buffer, buf.byteOffset + offset);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = offset + (major === 1 ? 10 : 12);
  const header = Buffer.from(buf.buffer, buf.byteOffset + start, headerLen).toString("latin1");
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (/'fortran_order':\s*True/.test(header)) throw new Error("npy: Fortran order is not supported");
  if (descr !== "<i8" && descr !== "<f4" && descr !== "<f8")
    throw new Error(`npy: unsupported dtype ${descr}`);
  if (shapeText === undefined) throw new Error("npy: no shape");
  const shape = shapeText
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const itemSize = descr === "<f4" ? 4 : 8;
  const dataStart = start + headerLen;
  const bytes = count * itemSize;
  if (dataStart + bytes > buf.byteLength) throw new Error("npy: truncated data");
  // Copy into a fresh, aligned buffer: file and socket buffers give no alignment guarantee.
  const copy = new Uint8Array(buf.subarray(dataStart, dataStart + bytes)).buffer; // Buffer#slice would share
  const data =
    descr === "<i8"
      ? new BigInt64Array(copy)
      : descr === "<f4"
        ? new Float32Array(copy)
        : new Float64Array(copy);
  return { array: { dtype: descr, shape, data }, next: dataStart + bytes };
}

/** Parses a concatenation of .npy arrays (a traccc-gen --stream). */
export function parseNpyStream(buf: Uint8Array): NpyArray[] {
  const out: NpyArray[] = [];
  let offset = 0;
  while (offset < buf.byteLength) {
    const { array, next } = parseNpy(buf, offset);
    out.push(array);
    offset = next;
  }
  return out;
}
