import type { NumericArray } from "../../core/datatypes.js";
import type { Parameters } from "../../core/infer.js";
import type { ModelSpec, TensorSpec, TensorSpecs } from "../../core/spec.js";
import type { Tensor } from "../../core/tensor.js";

/** What a JS model function may return for each output. */
export type OutputValue =
  | Tensor
  | NumericArray
  | { shape: readonly number[]; data: NumericArray | ArrayLike<number | bigint | boolean | string> };

export type Outputs = Record<string, OutputValue>;

export interface CallContext {
  readonly id: string | undefined;
  readonly parameters: Parameters;
  readonly requestedOutputs: readonly string[];
  /** Aborted when the client goes away; long computations may check it. */
  readonly signal: AbortSignal | undefined;
  /**
   * A typed array for output `name` (its declared datatype) holding `shape`, to fill and return.
   * Large ones reuse the memory of earlier responses instead of fresh pages: the array is valid
   * until this request's response has been written, so return it and do not keep it.
   */
  output(name: string, shape: readonly number[]): NumericArray;
}

/**
 * The inputs a model function receives for the specs `S` given to bind(): each a Tensor whose
 * `.data` follows its declared datatype (`tensor("FP32", …)` → `Float32Array`); an input
 * declared `{ optional: true }` may be absent.
 */
export type InputsOf<S extends TensorSpecs> = {
  readonly [K in keyof S as S[K] extends TensorSpec<infer _D, false> ? K : never]: Tensor<S[K]["datatype"]>;
} & {
  readonly [K in keyof S as S[K] extends TensorSpec<infer _D, false> ? never : K]?: Tensor<S[K]["datatype"]>;
};

/** What a model function may return for the output specs `S`: any of them, by name. */
export type OutputsOf<S extends TensorSpecs> = { [K in keyof S]?: OutputValue };

/**
 * `R` (what a function returned) checked against the output specs `S`: a name that is not an
 * output becomes `never`, so the compiler reports the stray name on `fn`, not on `outputs`.
 */
export type CheckedOutputs<R, S extends TensorSpecs> = R & {
  [K in Exclude<keyof R, keyof S>]: never;
} & OutputsOf<S>;

/**
 * A model function: inputs by name (each a Tensor with `.shape` and `.data`), outputs by name.
 * bind() types `I` and `R` from its specs (see `InputsOf`, `OutputsOf`).
 */
export type ModelFunction<I = Readonly<Record<string, Tensor>>, R = Partial<Record<string, OutputValue>>> = (
  inputs: I,
  ctx: CallContext,
) => R | Promise<R>;

/**
 * The shapes the batching decorators work with, after PyTriton's: a *requests function* takes
 * the list of requests of one batch and returns one result per request; a *batched function*
 * takes inputs that hold the whole batch (as `batch()` makes them). A plain JS model function,
 * without decorators, is called once per request.
 */

/** Marks a requests function, so that `bind()` hands it whole batches. */
export const REQUESTS_FUNCTION = Symbol.for("tensorbind.requestsFunction");

/** One request's inputs by name (PyTriton's request dict). */
export type Request = Record<string, Tensor>;

/** A single value that `firstValue()` puts in place of an input. */
export type Scalar = number | bigint | boolean | string;

/** One request's (or one batch's) outputs by name. */
export type Result = Partial<Record<string, OutputValue>>;

/** What a decorated function gets besides its inputs. */
export interface BatchContext {
  /** Each request's id, parameters, requested outputs and abort signal, in batch order. */
  readonly requests: readonly CallContext[];
  /** The model's resolved spec: inputs, outputs, `maxBatchSize`, `scheduling`. */
  readonly spec: ModelSpec;
}

/** A function of one batch's merged inputs (what `batch()` wraps). */
export type BatchedFunction<R extends Record<string, unknown> = Request> = (
  inputs: R,
  ctx: BatchContext,
) => Result | Promise<Result>;

/**
 * A function of a list of requests, marked so that `bind()` calls it once per batch. Made by
 * `batch()`, `sample()`, `groupByKeys()`, `fillOptionals()`, or `batchAware()` for one written by hand.
 */
export interface RequestsFunction<R extends Record<string, unknown> = Request> {
  readonly [REQUESTS_FUNCTION]: true;
  call(requests: R[], ctx: BatchContext): Result[] | Promise<Result[]>;
}

export function isRequestsFunction(value: unknown): value is RequestsFunction {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as Record<symbol, unknown>)[REQUESTS_FUNCTION] === true &&
    typeof (value as { call?: unknown }).call === "function"
  );
}

/**
 * Marks a hand-written function of a list of requests (returning one result per request) for
 * `bind()`; the decorators that take requests return such functions already.
 *
 * @example
 * bind({ name: "m", maxBatchSize: 8, batching: true, inputs, outputs,
 *   fn: batchAware((requests) => requests.map((r) => ({ Y: r.X! }))) });
 */
export function batchAware<R extends Record<string, unknown> = Request>(
  fn: (requests: R[], ctx: BatchContext) => Result[] | Promise<Result[]>,
): RequestsFunction<R> {
  return { [REQUESTS_FUNCTION]: true, call: fn };
}
