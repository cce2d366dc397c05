import type { TensorbindError } from "./errors.js";
import type { SharedMemoryRef } from "./shared-placement.js";
import type { Tensor } from "./tensor.js";
import type { RequestTrace } from "./trace-context.js";

/** A request parameter value: the union of KServe/Triton's InferParameter kinds. */
export type ParameterValue = string | number | boolean | bigint;
export type Parameters = Record<string, ParameterValue>;

export interface RequestedOutput {
  readonly name: string;
  readonly parameters: Parameters;
}

/**
 * A wire-independent inference request. Frontends build it from their bytes; tensors are
 * views over those bytes. Everything below the frontend sees only this.
 */
export interface InferRequest {
  readonly id?: string;
  readonly model: string;
  /** Requested version; undefined means the model's default (latest) version. */
  readonly version?: string;
  readonly parameters: Parameters;
  readonly inputs: readonly Tensor[];
  /** Requested outputs; undefined means all of the model's outputs. */
  readonly outputs?: readonly RequestedOutput[];
  /** Aborted when the client goes away (HTTP disconnect, gRPC cancel). */
  readonly signal?: AbortSignal;
  /**
   * Absolute deadline in `performance.now()` milliseconds from the transport (a gRPC deadline).
   * The `timeout` parameter is applied by the model's queue policy instead.
   */
  readonly deadline?: number;
  /** The caller's trace context (`traceparent`, `x-request-id`), echoed in request logs. */
  readonly trace?: RequestTrace;
}

export interface InferResponse {
  readonly id?: string;
  readonly model: string;
  readonly version: string;
  readonly parameters: Parameters;
  readonly outputs: readonly Tensor[];
  /** Outputs already written into the client's shared memory: answered without data. */
  readonly sharedOutputs?: ReadonlyMap<string, SharedMemoryRef>;
  /**
   * Gives back the memory the outputs view (a Python worker's shared-memory slots). A frontend
   * calls it once the response is written or the client is gone; the outputs are not read after.
   * Without the call the slots go back when the garbage collector finds the outputs unreachable.
   */
  readonly release?: () => void;
}

/**
 * One response of a decoupled model (Triton's response sender): outputs, an error, or neither
 * (the final flag alone). Every request gets exactly one response with `final`, its last.
 */
export interface StreamResponse {
  readonly response?: InferResponse;
  readonly error?: TensorbindError;
  readonly final: boolean;
}

/**
 * Request parameters the server itself interprets (Triton's reserved names and any `triton_`
 * prefix). They still reach a model's own parameters; an ensemble does not pass them to its steps.
 */
export const RESERVED_PARAMETERS: ReadonlySet<string> = new Set([
  "sequence_id",
  "sequence_start",
  "sequence_end",
  "priority",
  "timeout",
  "binary_data_output",
  "headers",
]);

/** Whether a request parameter is one the server interprets rather than a custom one. */
export function isReservedParameter(name: string): boolean {
  return RESERVED_PARAMETERS.has(name) || name.startsWith("triton_");
}
