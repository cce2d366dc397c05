import { DATATYPES } from "../../../core/datatypes.js";
import { InvalidArgumentError } from "../../../core/errors.js";
import { Tensor } from "../../../core/tensor.js";
import {
  type BatchContext,
  type BatchedFunction,
  REQUESTS_FUNCTION,
  type Request,
  type RequestsFunction,
  type Result,
} from "../function-types.js";
import { outputTensor } from "../js-backend.js";
import { rowCount, rowViews, scatterRows, takeRows } from "./rows.js";

/**
 * Calls the wrapped requests function once per group of requests that have the same set of
 * inputs (optional inputs make them differ), and puts the results back in request order. Like
 * PyTriton's `@group_by_keys`; use it before `batch()`.
 *
 * @example
 * fn: groupByKeys(batch(({ X, MASK }) => …))
 */
export function groupByKeys(fn: RequestsFunction): RequestsFunction {
  return {
    [REQUESTS_FUNCTION]: true,
    async call(requests: Request[], ctx: BatchContext): Promise<Result[]> {
      const groups = new Map<string, number[]>();
      requests.forEach((r, i) => {
        const key = Object.keys(r).sort().join("\u0000");
        const g = groups.get(key);
        if (g) g.push(i);
        else groups.set(key, [i]);
      });
      if (groups.size <= 1) return fn.call(requests, ctx);
      const out: Result[] = new Array(requests.length);
      for (const indices of groups.values()) {
        const results = await fn.call(
          indices.map((i) => requests[i]!),
          { ...ctx, requests: indices.map((i) => ctx.requests[i]!) },
        );
        indices.forEach((target, k) => {
          out[target] = results[k]!;
        });
      }
      return out;
    },
  };
}

/** Pads the groups' outputs to one shape before `groupByValues()` merges them (PyTriton's pad_fn). */
export type PadFunction = (groups: Record<string, Tensor>[]) => Record<string, Tensor>[];

/**
 * Splits a batch into sub-batches whose rows agree on the values of the given inputs, calls the
 * wrapped batched function once per sub-batch, and merges the outputs back in row order. Useful
 * when an input is a parameter of the computation (a temperature, a threshold). Like PyTriton's
 * `@group_by_values`; use it inside `batch()`. With `padFn` (e.g. `constantPadder(0)`), groups
 * whose outputs differ in their non-batch dimensions are padded to one shape first.
 *
 * @example
 * fn: batch(groupByValues(["THRESHOLD"])(({ HITS, THRESHOLD }) => …))
 */
export function groupByValues(
  keys: string | readonly string[],
  options: { padFn?: PadFunction } = {},
): (fn: BatchedFunction) => BatchedFunction {
  const names = typeof keys === "string" ? [keys] : [...keys];
  return (fn) =>
    async (inputs: Request, ctx: BatchContext): Promise<Result> => {
      const first = Object.values(inputs)[0];
      if (first === undefined) return fn(inputs, ctx);
      const rows = rowCount(first);
      const groups = new Map<string, number[]>();
      const keyRows = names.map((n) => {
        const t = inputs[n];
        return t === undefined ? undefined : rowViews(t);
      });
      for (let r = 0; r < rows; r++) {
        const key = keyRows.map((row) => row?.(r).toString("base64") ?? "").join("\u0001");
        const g = groups.get(key);
        if (g) g.push(r);
        else groups.set(key, [r]);
      }
      if (groups.size <= 1) return fn(inputs, ctx);
      const parts: { indices: number[]; outputs: Record<string, Tensor> }[] = [];
      for (const key of [...groups.keys()].sort()) {
        const indices = groups.get(key)!;
        const sub: Request = {};
        for (const [name, t] of Object.entries(inputs)) sub[name] = takeRows(t, indices);
        const result = await fn(sub, ctx);
        const outputs: Record<string, Tensor> = {};
        for (const [name, v] of Object.entries(result)) {
          if (v !== undefined) outputs[name] = outputTensor(ctx.spec, name, v, indices.length);
        }
        parts.push({ indices, outputs });
      }
      const padded = options.padFn ? options.padFn(parts.map((p) => p.outputs)) : parts.map((p) => p.outputs);
      const merged: Result = {};
      for (const name of Object.keys(padded[0] ?? {})) {
        merged[name] = scatterRows(
          parts.map((p, i) => {
            const t = padded[i]![name];
            if (t === undefined) throw new InvalidArgumentError(`a group did not return output '${name}'`);
            return { indices: p.indices, tensor: t };
          }),
          rows,
        );
      }
      return merged;
    };
}

/**
 * A `padFn` for `groupByValues()` that pads every output's non-batch dimensions to the largest
 * across the groups with `value` (empty strings for BYTES), like PyTriton's ConstantPadder.
 *
 * @example
 * fn: batch(groupByValues(["THRESHOLD"], constantPadder(0))(({ HITS, THRESHOLD }) => …))
 */
export function constantPadder(value: number | bigint | boolean = 0): PadFunction {
  return (groups) => {
    const names = [...new Set(groups.flatMap((g) => Object.keys(g)))];
    const out = groups.map(() => ({}) as Record<string, Tensor>);
    for (const name of names) {
      const present = groups.map((g) => g[name]).filter((t): t is Tensor => t !== undefined);
      const rank = present[0]!.shape.length;
      if (present.some((t) => t.shape.length !== rank || t.datatype !== present[0]!.datatype)) {
        throw new InvalidArgumentError(
          `output '${name}': groups differ in rank or datatype; they cannot be padded`,
        );
      }
      const target = present[0]!.shape.map((_, d) => Math.max(...present.map((t) => t.shape[d]!)));
      groups.forEach((g, i) => {
        const t = g[name];
        if (t !== undefined) out[i]![name] = padTo(t, target, value);
      });
    }
    return out;
  };
}

/** Pads every dimension but the first of `t` up to `target`. */
function padTo(t: Tensor, target: readonly number[], value: number | bigint | boolean): Tensor {
  const shape = [t.shape[0]!, ...target.slice(1)];
  if (shape.every((d, i) => d === t.shape[i])) return t;
  const isBytes = t.datatype === "BYTES";
  const chunks: Uint8Array[] = isBytes
    ? t.elements().map((e) => {
        const c = new Uint8Array(4 + e.byteLength);
        new DataView(c.buffer).setUint32(0, e.byteLength, true);
        c.set(e, 4);
        return c;
      })
    : [];
  const size = DATATYPES[t.datatype].size;
  const pad = isBytes ? new Uint8Array(4) : Tensor.fromArray(t.datatype, [1], [value as number]).bytes;
  const total = shape.reduce((a, b) => a * b, 1);
  const parts: Uint8Array[] = [];
  const index = new Array<number>(shape.length).fill(0);
  for (let k = 0; k < total; k++) {
    let inside = true;
    let src = 0;
    for (let d = 0; d < shape.length; d++) {
      if (index[d]! >= t.shape[d]!) inside = false;
      src = src * t.shape[d]! + Math.min(index[d]!, t.shape[d]! - 1);
    }
    parts.push(inside ? (isBytes ? chunks[src]! : t.bytes.subarray(src * size, (src + 1) * size)) : pad);
    for (let d = shape.length - 1; d >= 0; d--) {
      index[d] = index[d]! + 1;
      if (index[d]! < shape[d]!) break;
      index[d] = 0;
    }
  }
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let pos = 0;
  for (const p of parts) {
    bytes.set(p, pos);
    pos += p.byteLength;
  }
  return new Tensor(t.name, t.datatype, shape, bytes);
}
