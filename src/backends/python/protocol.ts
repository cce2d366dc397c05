import type { BatchingOptions, QueueOptions } from "../../core/scheduling.js";

/**
 * Control messages between the server and a Python worker (JSON frames over a ZeroMQ PAIR
 * socket). They say where data sits in the arenas; tensor bytes never travel here.
 * The Python half is python/tensorbind/_proxy/main.py; docs/DATA_PLANE.md describes the format.
 */

/** A shared-memory segment announced by its creator; the peer maps it. */
export interface SegmentInfo {
  readonly id: number;
  readonly name: string;
  readonly size: number;
}

/** A slot in an arena: [segment id, offset]. */
export type SlotRef = readonly [number, number];

/**
 * One tensor in an arena: numeric values little-endian, row-major, 64-byte aligned where the
 * sender placed them (an Arrow primitive array's value buffer); BYTES in the KServe wire form.
 * A tensor without bytes has segment -1.
 */
export interface TensorLocation {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
  readonly segment: number;
  readonly offset: number;
  readonly length: number;
}

/**
 * Where a worker reads an input: a segment of the model's arena (its id), or another worker's
 * output segment by name (an ensemble step's output read in place; the worker maps it read-only
 * and unmaps it on `unmap_shared`).
 */
export type InputLocation = Omit<TensorLocation, "segment"> & { readonly segment: number | string };

/** One call of the user function: its inputs in the server's arena. */
export interface CallLocation {
  readonly inputs: readonly InputLocation[];
  /** Outputs to produce; empty means all the function returns. */
  readonly requested: readonly string[];
  /** Rows of each request when the call holds several, concatenated (for a function of requests). */
  readonly splits?: readonly number[];
  /** Each request's parameters, when any has some (a function of requests sees them). */
  readonly parameters?: readonly Readonly<Record<string, string | number | boolean>>[];
  /** Inputs in a client's shared-memory region: the worker maps them itself (not in the stream). */
  readonly external?: readonly ExternalTensor[];
  /** Outputs the client wants in its region: the worker writes them there when it can. */
  readonly outputRegions?: Readonly<Record<string, RegionSpan>>;
  /** A decoupled model's requests: the stream id each one's responses carry (ResponsesMessage). */
  readonly streams?: readonly number[];
}

/** A span of a client's POSIX shared-memory segment (key as shm_open takes it). */
export interface RegionSpan {
  readonly key: string;
  readonly offset: number;
  readonly byteSize: number;
}

export interface ExternalTensor extends RegionSpan {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
  /**
   * Set for a client's CUDA region: the worker opens the IPC handle itself (cached by `key`) and
   * hands the model a torch tensor on its GPU at `offset` from the allocation's start.
   */
  readonly cuda?: { readonly handle: string };
}

/** An output the worker wrote into its region: what the stream would have said about it. */
export interface InRegionOutput {
  readonly datatype: string;
  readonly shape: readonly number[];
}

export interface InferMessage {
  readonly type: "infer";
  readonly id: number;
  /** Server segments the worker has not mapped yet. */
  readonly segments: readonly SegmentInfo[];
  readonly calls: readonly CallLocation[];
  /** Worker slots the server no longer references. */
  readonly release: readonly SlotRef[];
}

export type ServerMessage =
  | InferMessage
  | { readonly type: "release"; readonly release: readonly SlotRef[] }
  | { readonly type: "mapped"; readonly names: readonly string[] }
  /** The server dropped these segments of its arena: unmap them. */
  | { readonly type: "unmap"; readonly segments: readonly number[] }
  /** Another worker dropped these output segments this worker mapped by name: unmap them. */
  | { readonly type: "unmap_shared"; readonly names: readonly string[] }
  /** Clients' regions the server unmapped: the worker drops its cached mappings of these keys. */
  | { readonly type: "forget"; readonly keys: readonly string[] }
  /** The clients of these streams went away: the model's senders say is_cancelled(). */
  | { readonly type: "cancel"; readonly streams: readonly number[] }
  | BlsResultMessage
  | ConfigureMessage
  | { readonly type: "stop" };

/** The model's final config, for the batching decorators (pad_batch, first_value, fill_optionals). */
export interface ConfigureMessage {
  readonly type: "configure";
  readonly name: string;
  readonly maxBatchSize: number;
  readonly preferredBatchSizes: readonly number[];
  readonly inputs: Readonly<Record<string, TensorSpecJson>>;
  readonly outputs: Readonly<Record<string, TensorSpecJson>>;
}

export interface TensorSpecJson {
  readonly datatype: string;
  readonly shape: readonly number[];
  readonly optional?: boolean;
}

/** What `@tensorbind.model(...)` declared, as the worker reports it. */
export interface DeclarationJson {
  readonly inputs?: Readonly<Record<string, TensorSpecJson>>;
  readonly outputs?: Readonly<Record<string, TensorSpecJson>>;
  readonly maxBatchSize?: number;
  readonly name?: string;
  /** The function takes a list of requests (tensorbind.batch and friends): it gets whole batches. */
  readonly takesRequests?: boolean;
  /** `@tensorbind.model(batcher=DynamicBatcher(...))` (false: `batcher=False`), in bind()'s terms. */
  readonly batching?: BatchingOptions | false;
  readonly queue?: QueueOptions;
}

/** A call's (or one request's) outputs: one slot of the worker's arena, released as a whole. */
export interface OutputSet {
  /** [segment, offset] to release; null when no output has bytes. */
  readonly slot: SlotRef | null;
  readonly outputs: readonly TensorLocation[];
}

/** A request of a call that failed on its own (its neighbours in the call were answered). */
export interface PartError {
  readonly error: string;
}

export type CallResult =
  | ({ readonly ok: true; readonly inRegion?: Readonly<Record<string, InRegionOutput>> } & OutputSet)
  /** A function of requests answers each request with its own slot. */
  | { readonly ok: true; readonly parts: readonly (OutputSet | PartError)[] }
  /**
   * `invalid`: the function raised tensorbind.InvalidArgument (the client's mistake);
   * `exhausted`: no shared memory for the outputs (a cap or a full /dev/shm).
   */
  | { readonly ok: false; readonly error: string; readonly invalid?: boolean; readonly exhausted?: boolean };

export interface ResultMessage {
  readonly type: "result";
  readonly id: number;
  /** Worker segments the server has not mapped yet. */
  readonly segments: readonly SegmentInfo[];
  readonly results: readonly CallResult[];
}

export type WorkerMessage =
  | {
      readonly type: "hello";
      readonly pid: number;
      readonly declaration: DeclarationJson | null;
      readonly python: string;
    }
  | { readonly type: "fatal"; readonly error: string; readonly traceback: string }
  /** The worker dropped these empty output segments: unmap them. */
  | { readonly type: "dropped"; readonly segments: readonly number[] }
  | BlsMessage
  | ResponsesMessage
  | ResultMessage;

/**
 * Responses of a decoupled model (Triton's response sender), sent whenever the model sends
 * them, during its call or after: each one an output set, an error or the final flag alone.
 */
export interface ResponsesMessage {
  readonly type: "responses";
  /** Worker segments the server has not mapped yet. */
  readonly segments: readonly SegmentInfo[];
  readonly responses: readonly StreamResponseJson[];
}

/** One response: outputs (`slot` and `outputs`), an `error`, or neither (the final flag alone). */
export interface StreamResponseJson {
  readonly stream: number;
  readonly final: boolean;
  readonly slot?: SlotRef | null;
  readonly outputs?: readonly TensorLocation[];
  readonly error?: string;
}

/**
 * A model's call to another model of the server (Triton's BLS `InferenceRequest.exec()`), sent
 * while its own call runs: the inputs sit in the worker's output arena (an output set), new
 * worker segments are announced with it. The server answers with a BlsResultMessage.
 */
export interface BlsMessage {
  readonly type: "bls";
  readonly id: number;
  readonly model: string;
  /** "" for the latest. */
  readonly version: string;
  /** Outputs to return; empty means all. */
  readonly requested: readonly string[];
  readonly parameters: Readonly<Record<string, string | number | boolean>>;
  readonly inputs: OutputSet;
  readonly segments: readonly SegmentInfo[];
  /** `exec(decoupled=True)`: every response of the called model, each a BlsResultMessage with `final`. */
  readonly decoupled?: boolean;
}

/**
 * The answer to a BlsMessage: the outputs in the server's arena (slots held until the call ends).
 * A decoupled call gets several, the last with `final` (absent: final).
 */
export type BlsResultMessage =
  | {
      readonly type: "bls_result";
      readonly id: number;
      readonly ok: true;
      readonly outputs: readonly InputLocation[];
      readonly segments: readonly SegmentInfo[];
      readonly final?: boolean;
    }
  | {
      readonly type: "bls_result";
      readonly id: number;
      readonly ok: false;
      readonly error: string;
      readonly final?: boolean;
    };
