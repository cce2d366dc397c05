import { InvalidArgumentError } from "../../../core/errors.js";
import { Tensor } from "../../../core/tensor.js";
import {
  type BatchContext,
  type BatchedFunction,
  isRequestsFunction,
  REQUESTS_FUNCTION,
  type RequestsFunction,
  type Result,
  type Scalar,
} from "../function-types.js";
import { rowCount, rowViews, sliceRows } from "./rows.js";

/** Inputs after `firstValue()`: the selected ones hold a single value. */
export type FirstValueInputs = Record<string, Tensor | Scalar>;

export interface FirstValueOptions {
  /** A value of one element becomes a plain JS value (number, bigint, boolean, string). Default true. */
  squeezeSingleValues?: boolean;
  /** Refuse a request whose rows disagree on a selected input (400). Default true. */
  strict?: boolean;
}

/**
 * Replaces the selected inputs by their first row: for parameters sent with every row that the
 * model needs once (a temperature, a threshold). Works on a batched function (inside `batch()`)
 * or on a requests function (each request on its own). Like PyTriton's `@first_value`; the
 * model must batch.
 *
 * @example
 * fn: batch(firstValue("TEMPERATURE")(({ X, TEMPERATURE }) => …))  // TEMPERATURE is a number
 */
export function firstValue(
  keys: string | readonly string[],
  options: FirstValueOptions = {},
): {
  (fn: RequestsFunction<FirstValueInputs>): RequestsFunction;
  (fn: BatchedFunction<FirstValueInputs>): BatchedFunction;
} {
  const names = typeof keys === "string" ? [keys] : [...keys];
  const squeeze = options.squeezeSingleValues ?? true;
  const strict = options.strict ?? true;
  const replace = (request: Record<string, Tensor>, ctx: BatchContext): FirstValueInputs => {
    if (ctx.spec.maxBatchSize === 0) {
      throw new InvalidArgumentError(
        "firstValue() can only be used with models that batch (maxBatchSize > 0)",
      );
    }
    const out: FirstValueInputs = { ...request };
    for (const name of names) {
      const t = request[name];
      if (t === undefined) continue;
      if (rowCount(t) === 0) throw new InvalidArgumentError(`input '${name}' has no rows`);
      const row = sliceRows(t, 0, 1);
      if (strict) {
        const rowBytes = rowViews(t);
        const first = rowBytes(0);
        for (let r = 1; r < rowCount(t); r++) {
          if (!rowBytes(r).equals(first)) {
            throw new InvalidArgumentError(
              `The values on the '${name}' input are not equal. To proceed, either disable strict mode in ` +
                "firstValue() or ensure that the values always are consistent",
            );
          }
        }
      }
      const value = new Tensor(name, t.datatype, t.shape.slice(1), row.bytes);
      out[name] = squeeze && value.elementCount === 1 ? (value.toArray()[0] as Scalar) : value;
    }
    return out;
  };
  function wrap(fn: RequestsFunction<FirstValueInputs>): RequestsFunction;
  function wrap(fn: BatchedFunction<FirstValueInputs>): BatchedFunction;
  function wrap(
    fn: RequestsFunction<FirstValueInputs> | BatchedFunction<FirstValueInputs>,
  ): RequestsFunction | BatchedFunction {
    if (isRequestsFunction(fn)) {
      const inner = fn as RequestsFunction<FirstValueInputs>;
      return {
        [REQUESTS_FUNCTION]: true,
        call: (requests: Record<string, Tensor>[], ctx: BatchContext): Result[] | Promise<Result[]> =>
          inner.call(
            requests.map((r) => replace(r, ctx)),
            ctx,
          ),
      };
    }
    const inner = fn as BatchedFunction<FirstValueInputs>;
    return (inputs, ctx) => inner(replace(inputs, ctx), ctx);
  }
  return wrap;
}
