import type { WireError, WireRequest, WireResponse } from "./wire.js";

/** Messages from a frontend thread to the engine's thread (the worker's parent port). */
export type ToEngine =
  | { readonly t: "infer"; readonly id: number; readonly req: WireRequest }
  /** A request to a decoupled model: answered with "part" messages, then "ok" or "fail". */
  | { readonly t: "stream"; readonly id: number; readonly req: WireRequest }
  | { readonly t: "abort"; readonly id: number }
  /** The response with lent outputs (lend.ts) is written, or its client gone: the memory goes back. */
  | { readonly t: "release"; readonly id: number }
  /** The repository extension's load and unload (asynchronous, answered with "ok" or "fail"). */
  | {
      readonly t: "control";
      readonly id: number;
      readonly op: "loadModel" | "unloadModel";
      readonly args: readonly unknown[];
    }
  | { readonly t: "listening"; readonly http?: number; readonly grpc?: number }
  | { readonly t: "start-failed"; readonly message: string }
  | { readonly t: "closed" };

/** Messages from the engine's thread to a frontend thread. */
export type ToFrontend =
  | { readonly t: "done"; readonly id: number; readonly res: WireResponse }
  | { readonly t: "ok"; readonly id: number }
  /** One response of a decoupled model's request (the last has `final`). */
  | {
      readonly t: "part";
      readonly id: number;
      readonly res?: WireResponse;
      readonly err?: WireError;
      readonly final: boolean;
    }
  | { readonly t: "fail"; readonly id: number; readonly err: WireError }
  | { readonly t: "ready"; readonly ready: boolean }
  /** Stop accepting, answer what is in flight, then exit. */
  | { readonly t: "close" }
  /** The grace period is over: drop every connection. */
  | { readonly t: "force" };

/** The InferenceCore methods a frontend calls synchronously, plus the dashboard's pages. */
export type SyncMethod =
  | "isLive"
  | "isReady"
  | "serverMetadata"
  | "isModelReady"
  | "isModelDecoupled"
  | "modelMetadata"
  | "modelConfig"
  | "modelStatistics"
  | "repositoryIndex"
  | "page"
  | "shm";

export interface SyncCall {
  readonly method: SyncMethod;
  readonly args: readonly unknown[];
}

export type SyncReply =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly err: WireError };

/**
 * A shared-memory call: `op` is a SharedMemoryCore method; "view" answers a copy of the bytes
 * (the mapping belongs to the engine's thread) and the placement, and keeps the view until
 * "release" names its handle.
 */
export type ShmOp =
  | "extensions"
  | "systemStatus"
  | "systemRegister"
  | "systemUnregister"
  | "cudaStatus"
  | "cudaRegister"
  | "cudaUnregister"
  | "view"
  | "viewBytes"
  | "release";

/** A page rendered on the engine's thread (the dashboard), written out by the frontend thread. */
export interface RenderedPage {
  readonly status: number;
  readonly headers: Record<string, string | number>;
  readonly body: Uint8Array | undefined;
}
