/**
 * Control messages between the server and a Python worker (JSON frames over a ZeroMQ PAIR
 * socket). They say where data sits in the arenas; tensor bytes never travel here.
 * The Python half is python/tensorbind/_proxy/main.py.
 */

/** A shared-memory segment announced by its creator; the peer maps it, then unlinks the name. */
export interface SegmentInfo {
  readonly id: number;
  readonly name: string;
  readonly size: number;
}

/** A slot in an arena: [segment id, offset]. */
export type SlotRef = readonly [number, number];

/** One call of the user function: an Arrow stream in the server's arena. */
export interface CallLocation {
  readonly segment: number;
  readonly offset: number;
  readonly length: number;
  /** Outputs to produce; empty means all the function returns. */
  readonly requested: readonly string[];
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
  | { readonly type: "stop" };

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
}

export type CallResult =
  | { readonly ok: true; readonly segment: number; readonly offset: number; readonly length: number }
  | { readonly ok: false; readonly error: string };

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
  | ResultMessage;
