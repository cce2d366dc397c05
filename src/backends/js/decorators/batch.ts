import { InternalError, InvalidArgumentError } from "../../../core/errors.js";
import { formatShape } from "../../../core/shape.js";
import type { ModelSpec, TensorSpecs } from "../../../core/spec.js";
import type { CallContext, InputsOf } from "../function-types.js";
import {
  type BatchContext,
  type BatchedFunction,
  REQUESTS_FUNCTION,
  type Request,
  type RequestsFunction,
  type Result,
} from "../function-types.js";
import { outputTensor } from "../js-backend.js";
import { concatRows, rowCount, splitRows } from "./rows.js";

/**
 * Turns a function of one batch into a requests function: the requests' inputs are
 * concatenated along the batch dimension, the function is called once, and each output is split
 * back by rows (views, no copy), so every request gets its own rows. Like PyTriton's `@batch`.
 *
 * @example
 * bind({
 *   name: "scale", maxBatchSize: 64, batching: { maxQueueDelayMs: 1 },
 *   inputs: { X: tensor("FP32", [4]) }, outputs: { Y: tensor("FP32", [4]) },
 *   fn: batch(({ X }) => ({ Y: (X!.data as Float32Array).map((v) => v * 2) })),
 * });
 *
 * TypeScript cannot carry bind()'s `inputs` into a call nested in the same object, so inline the
 * inputs are loosely typed; name the specs to get them typed and checked (`X.data` a
 * `Float32Array`, a name that is not an input a compile error):
 * const inputs = { X: tensor("FP32", [4]) };
 * bind({ …, inputs, fn: batch<typeof inputs>(({ X }) => ({ Y: X.data.map((v) => v * 2) })) });
 * At run time, reading a name that is not an input fails with an error that names it.
 */
export function batch(fn: BatchedFunction): RequestsFunction;
export function batch<S extends TensorSpecs>(fn: BatchedFunction<InputsOf<S>>): RequestsFunction;
export function batch(fn: BatchedFunction): RequestsFunction {
  return {
    [REQUESTS_FUNCTION]: true,
    async call(requests: Request[], ctx: BatchContext): Promise<Result[]> {
      const first = requests[0];
      if (first === undefined) return [];
      const names = Object.keys(first);
      const signature = [...names].sort().join("\u0000");
      for (const r of requests) {
        if (Object.keys(r).sort().join("\u0000") !== signature) {
          throw new InvalidArgumentError(
            "cannot batch requests with different sets of inputs; put groupByKeys() or fillOptionals() before batch()",
          );
        }
      }
      const sizes = requests.map(requestRows);
      const inputs: Request = {};
      for (const name of names)
        inputs[name] = concatRows(
          requests.map((r) => r[name]!),
          name,
        );
      const outputs = await fn(strayNameGuard(inputs, ctx.spec), ctx);
      return splitResult(outputs, sizes, ctx);
    },
  };
}

/** Splits a batch's outputs into one result per request, by the requests' row counts. */
export function splitResult(outputs: Result, sizes: readonly number[], ctx: BatchContext): Result[] {
  const spec = ctx.spec;
  if (typeof outputs !== "object" || outputs === null) {
    throw new InternalError(`model '${spec.name}' returned ${typeof outputs}, expected an object of outputs`);
  }
  const total = sizes.reduce((a, b) => a + b, 0);
  const results: Result[] = sizes.map(() => ({}));
  for (const [name, value] of Object.entries(outputs)) {
    if (value === undefined) continue;
    const t = outputTensor(spec, name, value, total);
    if (t.shape.length === 0 || rowCount(t) !== total) {
      throw new InternalError(
        `model '${spec.name}' returned output '${name}' with shape ${formatShape(t.shape)}, but the batch holds ${total} rows; ` +
          "a batched function returns one row per input row",
      );
    }
    splitRows(t, sizes).forEach((part, i) => {
      results[i]![name] = part;
    });
  }
  return results;
}

/**
 * Calls a function of one request's inputs for each request of the batch in turn, so that a
 * decorator stack that starts from requests can end in a plain function. Like PyTriton's
 * `@sample`, which is meant for single-request lists; here every request of the list is served.
 *
 * @example
 * fn: groupByKeys(sample((inputs, ctx) => ({ Y: inputs.X! })))
 */
export function sample(
  fn: (inputs: Request, ctx: CallContext) => Result | Promise<Result>,
): RequestsFunction {
  return {
    [REQUESTS_FUNCTION]: true,
    async call(requests: Request[], ctx: BatchContext): Promise<Result[]> {
      const out: Result[] = [];
      for (let i = 0; i < requests.length; i++) out.push(await fn(requests[i]!, ctx.requests[i]!));
      return out;
    },
  };
}

// Names a destructuring may read that are not inputs and must not be reported as such.
const PASS = new Set(["then", "toJSON", "constructor", "valueOf", "toString"]);

/** The merged inputs, failing loudly (500, logged) on a name that is no input of the model. */
function strayNameGuard(inputs: Request, spec: ModelSpec): Request {
  return new Proxy(inputs, {
    get(target, key, receiver) {
      if (typeof key === "string" && !(key in target) && !Object.hasOwn(spec.inputs, key) && !PASS.has(key)) {
        throw new InternalError(
          `model '${spec.name}': the batched function reads input '${key}', which the model does not have (inputs: ${Object.keys(spec.inputs).join(", ")})`,
        );
      }
      return Reflect.get(target, key, receiver);
    },
  });
}

function requestRows(r: Request): number {
  const t = Object.values(r)[0];
  if (t === undefined) throw new InvalidArgumentError("a request without inputs cannot be batched");
  return rowCount(t);
}
