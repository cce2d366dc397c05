import type { Tensor } from "../../../core/tensor.js";
import type { BatchContext, BatchedFunction, Request, Result } from "../function-types.js";
import { outputTensor } from "../js-backend.js";
import { rowCount, sliceRows, takeRows } from "./rows.js";

/**
 * Pads a batch up to the next preferred batch size (or `maxBatchSize`) by repeating its last
 * row, for models compiled for fixed batch sizes (TensorRT engines, CUDA graphs). Like
 * PyTriton's `@pad_batch`; use it inside `batch()`. The padding rows are cut from the outputs
 * again, so each request still gets exactly its own rows.
 *
 * @example
 * fn: batch(padBatch(({ X }) => …))
 */
export function padBatch(fn: BatchedFunction): BatchedFunction {
  return async (inputs: Request, ctx: BatchContext): Promise<Result> => {
    const first = Object.values(inputs)[0];
    if (first === undefined) return fn(inputs, ctx);
    const rows = rowCount(first);
    const sizes = [...(ctx.spec.scheduling?.preferredBatchSizes ?? []), ctx.spec.maxBatchSize].sort(
      (a, b) => a - b,
    );
    const target = sizes.find((s) => s >= rows);
    if (target === undefined || target === rows) return fn(inputs, ctx);
    const indices = Array.from({ length: target }, (_, i) => Math.min(i, rows - 1));
    const padded: Request = {};
    for (const [name, t] of Object.entries(inputs)) padded[name] = takeRows(t, indices);
    const result = await fn(padded, ctx);
    const out: Result = {};
    for (const [name, v] of Object.entries(result)) {
      if (v === undefined) continue;
      const t: Tensor = outputTensor(ctx.spec, name, v, target);
      out[name] = t.shape.length > 0 && rowCount(t) === target ? sliceRows(t, 0, rows) : t;
    }
    return out;
  };
}
