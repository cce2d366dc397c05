import type { NumericArray } from "../../../core/datatypes.js";
import { InvalidArgumentError } from "../../../core/errors.js";
import { formatShape, shapeMatches } from "../../../core/shape.js";
import type { ModelSpec } from "../../../core/spec.js";
import { Tensor } from "../../../core/tensor.js";
import {
  type BatchContext,
  REQUESTS_FUNCTION,
  type Request,
  type RequestsFunction,
  type Result,
  type Scalar,
} from "../function-types.js";
import { rowCount, tileRows } from "./rows.js";

/** A default for a missing input, without the batch dimension. */
export type DefaultValue = Tensor | NumericArray | readonly Scalar[];

/**
 * Fills inputs missing from a request with defaults (given without the batch dimension; they
 * are repeated for each of the request's rows). Put it first, so that the decorators after it
 * see complete requests. Like PyTriton's `@fill_optionals`.
 *
 * @example
 * fn: fillOptionals({ THRESHOLD: [0.5] })(groupByKeys(batch(({ X, THRESHOLD }) => …)))
 */
export function fillOptionals(
  defaults: Record<string, DefaultValue>,
): (fn: RequestsFunction) => RequestsFunction {
  let checked: { spec: ModelSpec; tensors: Record<string, Tensor> } | undefined;
  const resolve = (spec: ModelSpec): Record<string, Tensor> => {
    if (checked?.spec === spec) return checked.tensors;
    const tensors: Record<string, Tensor> = {};
    for (const [name, value] of Object.entries(defaults)) {
      const s = spec.inputs[name];
      if (s === undefined)
        throw new InvalidArgumentError(`fillOptionals(): model '${spec.name}' has no input '${name}'`);
      const t = Tensor.isTensor(value)
        ? value
        : Tensor.fromArray(
            s.datatype,
            s.shape.every((d) => d >= 0) ? s.shape : [(value as ArrayLike<unknown>).length],
            value as ArrayLike<number>,
            name,
          );
      if (t.datatype !== s.datatype) {
        throw new InvalidArgumentError(
          `fillOptionals(): the default of '${name}' is ${t.datatype}, the input is ${s.datatype}`,
        );
      }
      if (!shapeMatches(s.shape, t.shape)) {
        throw new InvalidArgumentError(
          `fillOptionals(): the default of '${name}' has shape ${formatShape(t.shape)}, the input ${formatShape(s.shape)} (without the batch dimension)`,
        );
      }
      tensors[name] = t.name === name ? t : t.rename(name);
    }
    checked = { spec, tensors };
    return tensors;
  };
  return (fn) => ({
    [REQUESTS_FUNCTION]: true,
    call(requests: Request[], ctx: BatchContext): Result[] | Promise<Result[]> {
      const tensors = resolve(ctx.spec);
      const batching = ctx.spec.maxBatchSize > 0;
      const filled = requests.map((r) => {
        const missing = Object.keys(tensors).filter((n) => r[n] === undefined);
        if (missing.length === 0) return r;
        const present = Object.values(r)[0];
        const rows = batching && present !== undefined ? rowCount(present) : 1;
        const out: Request = { ...r };
        for (const n of missing) out[n] = batching ? tileRows(tensors[n]!, rows) : tensors[n]!;
        return out;
      });
      return fn.call(filled, ctx);
    },
  });
}
