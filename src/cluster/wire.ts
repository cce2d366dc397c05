import type { Datatype } from "../core/datatypes.js";
import {
  CancelledError,
  ConfigError,
  DeadlineExceededError,
  type ErrorCode,
  InternalError,
  InvalidArgumentError,
  MethodNotAllowedError,
  NotFoundError,
  ResourceExhaustedError,
  TensorbindError,
  toTensorbindError,
  UnavailableError,
  UnimplementedError,
} from "../core/errors.js";
import type { InferRequest, InferResponse, Parameters, RequestedOutput } from "../core/infer.js";
import { type SharedView, tensorOfView } from "../core/shared-memory.js";
import type { SharedMemoryRef, SharedPlacement } from "../core/shared-placement.js";
import { Tensor } from "../core/tensor.js";
import type { RequestTrace } from "../core/trace-context.js";
import { borrow, type Lender } from "./lend.js";
import { viewHandleOf } from "./view-handles.js";

/**
 * What crosses between a frontend thread and the engine's thread. Tensors travel as
 * (ArrayBuffer, offset, length): large buffers are transferred (moved, not copied), small ones
 * are copied into a fresh buffer first, so that a structured clone never copies more than the
 * tensor itself (cloning a view clones its whole backing buffer).
 */
export interface WireTensor {
  readonly name: string;
  readonly datatype: Datatype;
  readonly shape: readonly number[];
  /** The bytes, moved or copied; absent when lent (`address`). */
  readonly buffer?: ArrayBuffer;
  readonly offset: number;
  readonly length: number;
  /** Where the engine's thread lent the bytes in this process (lend.ts): read, then released. */
  readonly address?: number;
  /** Where the bytes live in a client's shared-memory region, when they do. */
  readonly placement?: SharedPlacement;
  /** An output written into the client's region: no bytes travel (nothing reads them). */
  readonly inRegion?: true;
  /** An input in a client's region: the engine's handle of its view (no bytes travel). */
  readonly view?: number;
}

export interface WireRequest {
  readonly id?: string;
  readonly model: string;
  readonly version?: string;
  readonly parameters: Parameters;
  readonly inputs: WireTensor[];
  readonly outputs?: readonly RequestedOutput[];
  /** Milliseconds left until the deadline: `performance.now()` has a different origin per thread. */
  readonly deadlineInMs?: number;
  readonly trace?: RequestTrace;
}

export interface WireResponse {
  readonly id?: string;
  readonly model: string;
  readonly version: string;
  readonly parameters: Parameters;
  readonly outputs: WireTensor[];
  /** Outputs already in the client's region (answered without data): their bytes do not cross. */
  readonly sharedOutputs?: readonly (readonly [string, SharedMemoryRef])[];
}

export interface WireError {
  readonly code: ErrorCode;
  readonly message: string;
}

/** Buffers at least this big move between threads; smaller ones are copied (cheaper than a transfer's bookkeeping). */
const TRANSFER_BYTES = 64 * 1024;

/**
 * Packs tensors for postMessage. A backing buffer is moved when it is big and the tensors use at
 * least half of it (a request body, not a pool or a socket buffer that other data shares);
 * `movable` says which buffers the caller owns outright (undefined: judge by size alone).
 */
export function packTensors(
  tensors: readonly Tensor[],
  transfer: ArrayBuffer[],
  movable?: ReadonlySet<ArrayBufferLike>,
  lend?: Lender,
): WireTensor[] {
  const used = new Map<ArrayBufferLike, number>();
  for (const t of tensors) {
    // A tensor over a client's region crosses as the engine's view: reading its bytes here would
    // fetch the whole region from the engine (and a CUDA region from the device) per request.
    if (viewHandleOf(t.placement) !== undefined) continue;
    used.set(t.bytes.buffer, (used.get(t.bytes.buffer) ?? 0) + t.bytes.byteLength);
  }
  return tensors.map((t) => {
    const view = viewHandleOf(t.placement);
    if (view !== undefined) {
      return { name: t.name, datatype: t.datatype, shape: t.shape, offset: 0, length: t.byteLength, view };
    }
    const b = t.bytes;
    const backing = b.buffer;
    const move =
      backing instanceof ArrayBuffer &&
      backing.byteLength >= TRANSFER_BYTES &&
      (movable === undefined ? (used.get(backing) ?? 0) * 2 >= backing.byteLength : movable.has(backing)) &&
      !(backing as ArrayBuffer & { detached?: boolean }).detached;
    if (move) {
      if (!transfer.includes(backing)) transfer.push(backing);
      return wire(t, backing, b.byteOffset, b.byteLength);
    }
    const address =
      lend !== undefined && b.byteLength >= TRANSFER_BYTES && t.placement === undefined ? lend(b) : undefined;
    if (address !== undefined) {
      return { name: t.name, datatype: t.datatype, shape: t.shape, offset: 0, length: b.byteLength, address };
    }
    const copy = new Uint8Array(b.byteLength);
    copy.set(b);
    transfer.push(copy.buffer);
    return wire(t, copy.buffer, 0, b.byteLength);
  });
}

function wire(t: Tensor, buffer: ArrayBuffer, offset: number, length: number): WireTensor {
  return {
    name: t.name,
    datatype: t.datatype,
    shape: t.shape,
    buffer,
    offset,
    length,
    ...(t.placement !== undefined && { placement: t.placement }),
  };
}

export function unpackTensors(
  tensors: readonly WireTensor[],
  views?: (handle: number) => SharedView | undefined,
): Tensor[] {
  return tensors.map((t) => {
    if (t.view !== undefined) {
      const view = views?.(t.view);
      if (view === undefined) throw new InternalError(`input '${t.name}': its shared-memory view is gone`);
      return tensorOfView(t.name, t.datatype, t.shape, view);
    }
    if (t.inRegion) return Tensor.deferred(t.name, t.datatype, t.shape, t.length, regionOutputRead);
    const bytes =
      t.address !== undefined ? borrow(t.address, t.length) : new Uint8Array(t.buffer!, t.offset, t.length);
    return new Tensor(t.name, t.datatype, t.shape, bytes);
  });
}

function regionOutputRead(): never {
  throw new InternalError("an output in the client's shared-memory region was read on a frontend thread");
}

export function packRequest(req: InferRequest, transfer: ArrayBuffer[]): WireRequest {
  return {
    ...(req.id !== undefined && { id: req.id }),
    model: req.model,
    ...(req.version !== undefined && { version: req.version }),
    parameters: req.parameters,
    inputs: packTensors(req.inputs, transfer),
    ...(req.outputs !== undefined && {
      outputs: req.outputs.map((o) => ({ name: o.name, parameters: o.parameters })),
    }),
    ...(req.deadline !== undefined && { deadlineInMs: req.deadline - performance.now() }),
    ...(req.trace !== undefined && { trace: req.trace }),
  };
}

export function unpackRequest(
  w: WireRequest,
  signal: AbortSignal,
  views?: (handle: number) => SharedView | undefined,
): InferRequest {
  return {
    ...(w.id !== undefined && { id: w.id }),
    model: w.model,
    ...(w.version !== undefined && { version: w.version }),
    parameters: w.parameters,
    inputs: unpackTensors(w.inputs, views),
    ...(w.outputs !== undefined && { outputs: w.outputs }),
    signal,
    ...(w.deadlineInMs !== undefined && { deadline: performance.now() + w.deadlineInMs }),
    ...(w.trace !== undefined && { trace: w.trace }),
  };
}

/**
 * Outputs that are views of the request's own (moved-in) buffers move back; large ones `lend`
 * accepts are lent (the caller keeps `res` until the frontend thread releases it); the rest are
 * copied.
 */
export function packResponse(
  res: InferResponse,
  req: WireRequest,
  transfer: ArrayBuffer[],
  lend?: Lender,
): WireResponse {
  const ours = new Set<ArrayBufferLike>();
  for (const t of req.inputs) if (t.buffer !== undefined) ours.add(t.buffer);
  const shared = res.sharedOutputs;
  // An output in the client's region is answered without data: only its name, type and shape go.
  const inRegion = (t: Tensor) => shared?.has(t.name) === true;
  const packed = packTensors(
    res.outputs.filter((t) => !inRegion(t)),
    transfer,
    ours,
    lend,
  );
  let next = 0;
  return {
    ...(res.id !== undefined && { id: res.id }),
    model: res.model,
    version: res.version,
    parameters: res.parameters,
    outputs: res.outputs.map((t) =>
      inRegion(t)
        ? {
            name: t.name,
            datatype: t.datatype,
            shape: t.shape,
            offset: 0,
            length: t.byteLength,
            inRegion: true,
          }
        : packed[next++]!,
    ),
    ...(shared !== undefined && { sharedOutputs: [...shared] }),
  };
}

/** Whether any output of a packed response is lent (its memory still the engine's). */
export function lends(w: WireResponse): boolean {
  return w.outputs.some((t) => t.address !== undefined);
}

export function unpackResponse(w: WireResponse): InferResponse {
  return {
    ...(w.id !== undefined && { id: w.id }),
    model: w.model,
    version: w.version,
    parameters: w.parameters,
    outputs: unpackTensors(w.outputs),
    ...(w.sharedOutputs !== undefined && { sharedOutputs: new Map(w.sharedOutputs) }),
  };
}

export function packError(err: unknown): WireError {
  const e = toTensorbindError(err);
  return { code: e.code, message: e.message };
}

// Codes without a class of their own here come back as the base class with the same code.
const BY_CODE: Readonly<Partial<Record<ErrorCode, (message: string) => TensorbindError>>> = {
  TB_ERR_INVALID_ARG: (m) => new InvalidArgumentError(m),
  TB_ERR_NOT_FOUND: (m) => new NotFoundError(m),
  TB_ERR_METHOD_NOT_ALLOWED: (m) => new MethodNotAllowedError(m),
  TB_ERR_UNAVAILABLE: (m) => new UnavailableError(m),
  TB_ERR_UNIMPLEMENTED: (m) => new UnimplementedError(m),
  TB_ERR_INTERNAL: (m) => new InternalError(m),
  TB_ERR_CANCELLED: (m) => new CancelledError(m),
  TB_ERR_DEADLINE_EXCEEDED: (m) => new DeadlineExceededError(m),
  TB_ERR_RESOURCE_EXHAUSTED: (m) => new ResourceExhaustedError(m),
  TB_ERR_CONFIG: (m) => new ConfigError(m),
};

/** The same error class on this side of the thread boundary, so frontends map it as usual. */
export function unpackError(w: WireError): TensorbindError {
  return BY_CODE[w.code]?.(w.message) ?? new TensorbindError(w.code, w.message);
}
