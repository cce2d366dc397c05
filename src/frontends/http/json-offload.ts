import { availableParallelism } from "node:os";
import type { RequestBuffer } from "../../core/backend.js";
import { DATATYPES, type Datatype, isDatatype } from "../../core/datatypes.js";
import type { InferResponse } from "../../core/infer.js";
import { DEFAULT_REQUEST_LIMITS, type RequestLimits } from "../../core/request-limits.js";
import { type JsonNumbersAddon, jsonNumbersAddon } from "./json-native.js";
import { type ScannedHeader, spliceScanned } from "./json-scan.js";

/**
 * The number↔text work of large JSON bodies on libuv's pool threads, so the event loop keeps
 * serving other requests meanwhile (and several bodies convert on several cores). Only what the
 * addon takes as it is happens here; the synchronous codec then checks everything as always and
 * reads anything left over itself, with the same errors.
 */

/**
 * Conversions run at most this many at a time, the rest wait in arrival order: one core is left
 * to the event loop (and the model), requests finish in the order they came rather than all
 * slowing down together, and one pool thread stays free for file system and DNS work, which
 * shares libuv's pool (UV_THREADPOOL_SIZE, default 4).
 */
const LANES = Math.max(
  1,
  Math.min(availableParallelism() - 1, Number(process.env.UV_THREADPOOL_SIZE ?? 4) - 1),
);
let running = 0;
const waiting: (() => void)[] = [];

async function inLane<T>(job: () => Promise<T>): Promise<T> {
  if (running >= LANES) await new Promise<void>((resolve) => waiting.push(resolve));
  else running++;
  try {
    return await job();
  } finally {
    const next = waiting.shift();
    if (next !== undefined) next();
    else running--;
  }
}

/**
 * Bodies and outputs from these sizes on convert on the pool: below them the work (under a
 * millisecond, bench/json-identity/codec.mjs --elements) costs less than the hop to a thread.
 */
const OFFLOAD_BODY_BYTES = 256 * 1024;
const OFFLOAD_OUTPUT_BYTES = 64 * 1024;

export interface PrepareOptions {
  readonly limits?: RequestLimits | undefined;
  /** Bodies from this size on (default 256 KiB). */
  readonly minBytes?: number;
  /**
   * Memory for the decoded inputs, `byteLength` bytes 64-byte aligned at its start (a Python
   * model's shared-memory slot: the worker then reads the numbers where they were written).
   * Heap arrays when absent or when it throws.
   */
  readonly allocate?: (byteLength: number) => RequestBuffer;
}

/** A prepared body; `release` gives back the memory `allocate` lent, once the response is written. */
export type PreparedBody = ScannedHeader & { readonly release?: () => void };

/**
 * Scans a JSON body and reads its `data` arrays into typed arrays off the event loop. `body`
 * must be memory this request owns (a heap buffer, not a lent arena slot another request may
 * reuse). Undefined when the body is small or the scan declines: decode as usual.
 */
export function prepareJsonBody(
  body: Buffer,
  options: PrepareOptions = {},
): Promise<PreparedBody | undefined> | undefined {
  const addon = jsonNumbersAddon();
  // Undefined at once (no promise to wait for) when there is nothing to do off the loop.
  if (addon === undefined || body.length < (options.minBytes ?? OFFLOAD_BODY_BYTES)) return undefined;
  return prepareOnPool(body, options, addon);
}

/** Bytes an input takes in lent memory: each starts 64-byte aligned. */
const aligned = (n: number) => Math.ceil(n / 64) * 64;

async function prepareOnPool(
  body: Buffer,
  options: PrepareOptions,
  addon: JsonNumbersAddon,
): Promise<PreparedBody | undefined> {
  const limits = options.limits ?? DEFAULT_REQUEST_LIMITS;
  const scanned = spliceScanned(
    body,
    body.length,
    await inLane(() => addon.scanJsonInputDataAsync(body, body.length)),
  );
  if (scanned === undefined) return undefined;
  const h = scanned.header as { inputs?: unknown } | null;
  const inputs =
    typeof h === "object" && h !== null && Array.isArray(h.inputs) ? (h.inputs as unknown[]) : [];
  if (inputs.length > limits.maxInputs) return scanned; // the codec reports it
  const planned: { index: number; datatype: Datatype; shape: number[]; count: number; size: number }[] = [];
  for (const [index, range] of scanned.data) {
    const input = inputs[index] as { datatype?: unknown; shape?: unknown } | undefined;
    const count = plainCount(input?.shape);
    const datatype = input?.datatype;
    if (count === undefined || !isDatatype(datatype) || datatype === "BYTES" || !DATATYPES[datatype].json)
      continue;
    // Each element takes a byte of text at least: a larger count is the codec's error to give.
    if (count > range.end - range.begin) continue;
    const shape = input!.shape as number[];
    planned.push({ index, datatype, shape, count, size: count * DATATYPES[datatype].size });
  }
  let lent: RequestBuffer | undefined;
  const total = planned.reduce((n, p) => n + aligned(p.size), 0);
  try {
    if (options.allocate !== undefined && total > 0) lent = options.allocate(total);
  } catch {
    lent = undefined; // no shared memory to spare: heap arrays, copied later as before
  }
  const decoded = new Map<number, { datatype: string; shape: string; bytes: Uint8Array }>();
  let offset = 0;
  const jobs = planned.map((p) => {
    const range = scanned.data.get(p.index)!;
    const bytes = lent !== undefined ? lent.bytes.subarray(offset, offset + p.size) : new Uint8Array(p.size);
    offset += aligned(p.size);
    return inLane(() =>
      addon.parseJsonArrayAsync(body, range.begin, range.end, p.datatype, p.count, p.shape.length - 1, bytes),
    ).then((ok) => {
      if (ok) decoded.set(p.index, { datatype: p.datatype, shape: JSON.stringify(p.shape), bytes });
    });
  });
  try {
    await Promise.all(jobs);
  } catch (err) {
    lent?.release();
    throw err;
  }
  return { ...scanned, decoded, ...(lent !== undefined && { release: lent.release }) };
}

/** The element count of a shape of non-negative safe integers; undefined for anything else. */
function plainCount(shape: unknown): number | undefined {
  if (!Array.isArray(shape)) return undefined;
  let n = 1;
  for (const d of shape) {
    if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 0) return undefined;
    n *= d;
  }
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * The JSON text of each large output that goes back as JSON `data`, formatted off the event
 * loop. The outputs' memory must stay valid until this settles (release it afterwards).
 */
export function formatJsonOutputs(
  res: InferResponse,
  binaryOutputs: ReadonlySet<string> | "all",
  minBytes = OFFLOAD_OUTPUT_BYTES,
): Promise<Map<string, Buffer>> | undefined {
  const addon = jsonNumbersAddon();
  if (addon === undefined || binaryOutputs === "all") return undefined;
  const large = res.outputs.filter(
    (t) =>
      !binaryOutputs.has(t.name) &&
      !res.sharedOutputs?.has(t.name) &&
      DATATYPES[t.datatype].json &&
      t.datatype !== "BYTES" &&
      t.bytes.byteLength >= minBytes,
  );
  // Undefined at once (no promise to wait for) when no output is worth a pool thread.
  if (large.length === 0) return undefined;
  const out = new Map<string, Buffer>();
  return Promise.all(
    large.map(async (t) => {
      out.set(t.name, await inLane(() => addon.formatJsonArrayAsync(t.bytes, t.datatype)));
    }),
  ).then(() => out);
}
