import type { Backend, ExecutionRequest, ExecutionResult } from "../../core/backend.js";
import { DATATYPES, type Datatype, type NumericArray } from "../../core/datatypes.js";
import { InternalError, toTensorbindError } from "../../core/errors.js";
import { attachRelease } from "../../core/release.js";
import { elementCount, formatShape } from "../../core/shape.js";
import type { ModelSpec } from "../../core/spec.js";
import { Tensor } from "../../core/tensor.js";
import {
  type CallContext,
  isRequestsFunction,
  type ModelFunction,
  type Outputs,
  type OutputValue,
  type RequestsFunction,
} from "./function-types.js";
import { OutputArrayPool, OutputLease } from "./output-arrays.js";

/**
 * Runs a JS function in the server process; `instances` is the number of executions in flight
 * at once. A plain function is called once per request of a batch, one after another; a
 * requests function (made by `batch()` and the other decorators) once per batch.
 */
export class JsBackend implements Backend {
  readonly kind = "js" as const;
  readonly instances: number;
  readonly #fn: ModelFunction | RequestsFunction;
  readonly #arrays = new OutputArrayPool();
  #spec: ModelSpec | undefined;

  constructor(fn: ModelFunction | RequestsFunction, instances = 1) {
    this.#fn = fn;
    this.instances = instances;
  }

  async start(): Promise<undefined> {
    return undefined;
  }

  configure(spec: ModelSpec): void {
    this.#spec = spec;
  }

  async execute(batch: readonly ExecutionRequest[]): Promise<(ExecutionResult | Error)[]> {
    const fn = this.#fn;
    if (isRequestsFunction(fn)) return this.#executeBatch(fn, batch);
    const results: (ExecutionResult | Error)[] = [];
    for (const req of batch) {
      const lease = new OutputLease(this.#arrays, this.#spec!);
      try {
        const outputs = await fn({ ...req.inputs }, contextOf(req, lease));
        results.push(this.#settle(this.#convert(outputs, req), lease));
      } catch (err) {
        lease.settle(new Set());
        results.push(toTensorbindError(err));
      }
    }
    return results;
  }

  async #executeBatch(
    fn: RequestsFunction,
    batch: readonly ExecutionRequest[],
  ): Promise<(ExecutionResult | Error)[]> {
    const spec = this.#spec!;
    const leases = batch.map(() => new OutputLease(this.#arrays, spec));
    try {
      const outputs = await fn.call(
        batch.map((r) => ({ ...r.inputs })),
        { requests: batch.map((r, i) => contextOf(r, leases[i]!)), spec },
      );
      if (!Array.isArray(outputs) || outputs.length !== batch.length) {
        throw new InternalError(
          `model '${spec.name}' was given ${batch.length} requests and returned ${Array.isArray(outputs) ? outputs.length : typeof outputs} results; a requests function returns one result per request`,
        );
      }
      return batch.map((req, i) => {
        try {
          return this.#settle(this.#convert(outputs[i]!, req), leases[i]!);
        } catch (err) {
          leases[i]!.settle(new Set());
          return toTensorbindError(err);
        }
      });
    } catch (err) {
      for (const l of leases) l.settle(new Set());
      const e = toTensorbindError(err);
      return batch.map(() => e);
    }
  }

  /** ctx.output() arrays the result carries go back when its response is written. */
  #settle(result: ExecutionResult, lease: OutputLease): ExecutionResult {
    const release = lease.settle(new Set(Object.values(result).map((t) => t.bytes.buffer)));
    if (release !== undefined) attachRelease(result, release);
    return result;
  }

  async stop(): Promise<void> {
    this.#arrays.clear();
  }

  #convert(outputs: Partial<Outputs>, req: ExecutionRequest): ExecutionResult {
    const spec = this.#spec!;
    if (typeof outputs !== "object" || outputs === null) {
      throw new InternalError(
        `model '${spec.name}' returned ${typeof outputs}, expected an object of outputs`,
      );
    }
    const result: ExecutionResult = {};
    for (const name of req.requestedOutputs) {
      const value = outputs[name];
      if (value === undefined) continue; // reported as a missing output by validation
      try {
        result[name] = outputTensor(spec, name, value, batchSizeOf(spec, req));
      } catch (err) {
        // Whatever the function returned is the model's mistake, never the client's.
        const e = toTensorbindError(err);
        throw e.code === "TB_ERR_INVALID_ARG"
          ? new InternalError(`model '${spec.name}' returned an invalid output '${name}': ${e.message}`, {
              cause: e,
            })
          : e;
      }
    }
    return result;
  }
}

function contextOf(req: ExecutionRequest, lease: OutputLease): CallContext {
  return {
    id: req.id,
    parameters: req.parameters,
    requestedOutputs: req.requestedOutputs,
    signal: req.signal,
    output: (name, shape) => lease.output(name, shape),
  };
}

function batchSizeOf(spec: ModelSpec, req: ExecutionRequest): number | undefined {
  if (spec.maxBatchSize === 0) return undefined;
  for (const t of Object.values(req.inputs)) return t.shape[0];
  return undefined;
}

/**
 * A returned output value as a Tensor named `name`: typed arrays take their shape from the
 * spec (with `batchSize` rows when the model batches), `{ shape, data }` gives its own.
 */
export function outputTensor(
  spec: ModelSpec,
  name: string,
  value: OutputValue,
  batchSize: number | undefined,
): Tensor {
  const outSpec = spec.outputs[name];
  if (Tensor.isTensor(value)) return value.name === name ? value : value.rename(name);
  if (outSpec === undefined)
    throw new InternalError(`model '${spec.name}' returned an unknown output '${name}'`);
  const datatype: Datatype = outSpec.datatype;
  if (ArrayBuffer.isView(value)) {
    const shape = impliedShape(spec, name, batchSize, value.length);
    checkSize(spec, name, shape, value.length);
    return fromValues(datatype, shape, value, name);
  }
  if (typeof value === "object" && value !== null && "shape" in value && "data" in value) {
    checkSize(spec, name, value.shape, value.data.length);
    return fromValues(datatype, value.shape, value.data, name);
  }
  throw new InternalError(
    `model '${spec.name}' returned output '${name}' as ${typeof value}; return a Tensor, a typed array or { shape, data }`,
  );
}

/** A wrong-sized output is the model's mistake (500, logged), not the client's (400). */
function checkSize(spec: ModelSpec, name: string, shape: readonly number[], length: number): void {
  const count = elementCount(shape, `output '${name}'`);
  if (length !== count) {
    throw new InternalError(
      `model '${spec.name}' returned output '${name}' with ${length} elements, but its shape ${formatShape(shape)} holds ${count}`,
    );
  }
}

function fromValues(
  datatype: Datatype,
  shape: readonly number[],
  data: NumericArray | ArrayLike<number | bigint | boolean | string>,
  name: string,
): Tensor {
  const info = DATATYPES[datatype];
  // A typed array of exactly the datatype's kind is wrapped without a copy.
  if (info.array !== undefined && data instanceof info.array && datatype !== "BOOL") {
    return Tensor.fromTyped(datatype, shape, data as NumericArray, name);
  }
  if (datatype === "BOOL" && data instanceof Uint8Array) return Tensor.fromTyped(datatype, shape, data, name);
  return Tensor.fromArray(datatype, shape, data as ArrayLike<number>, name);
}

/** The output shape from the spec, the request's batch size, and (for one -1 dim) the element count. */
function impliedShape(
  spec: ModelSpec,
  name: string,
  batchSize: number | undefined,
  length: number,
): number[] {
  const dims = [...spec.outputs[name]!.shape];
  const shape = batchSize === undefined ? dims : [batchSize, ...dims];
  const unknown = shape.filter((d) => d === -1).length;
  if (unknown === 0) return shape;
  if (unknown === 1) {
    const known = elementCount(shape.filter((d) => d !== -1));
    if (known > 0 && length % known === 0) return shape.map((d) => (d === -1 ? length / known : d));
  }
  throw new InternalError(
    `model '${spec.name}' returned output '${name}' as a bare array, but its shape ${formatShape(shape)} cannot be implied; return { shape, data }`,
  );
}
