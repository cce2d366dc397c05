import type { ExecutionRequest, ExecutionResult } from "../core/backend.js";
import { countBytesElements } from "../core/bytes-codec.js";
import { InternalError, InvalidArgumentError } from "../core/errors.js";
import type { InferRequest } from "../core/infer.js";
import { elementCount, fixedByteSize, formatShape, shapeMatches } from "../core/shape.js";
import type { ModelSpec, TensorSpec } from "../core/spec.js";
import type { Tensor } from "../core/tensor.js";

/**
 * The one place where requests are checked against a model's spec, for every frontend:
 * names, datatypes, shapes, byte sizes, required and optional inputs, requested outputs.
 */

/** The full request shape of a spec: a leading -1 (the batch dim) when the model batches. */
export function fullShape(spec: ModelSpec, tensor: TensorSpec): number[] {
  return spec.maxBatchSize > 0 ? [-1, ...tensor.shape] : [...tensor.shape];
}

export interface ValidatedRequest {
  readonly execution: ExecutionRequest;
  /** Batch size of the request (1 when the model does not batch). */
  readonly batchSize: number;
}

export function validateRequest(spec: ModelSpec, request: InferRequest): ValidatedRequest {
  const where = `for model '${spec.name}'`;
  const inputs: Record<string, Tensor> = {};
  let batchSize: number | undefined;

  for (const t of request.inputs) {
    const s = spec.inputs[t.name];
    if (s === undefined) throw new InvalidArgumentError(`unexpected inference input '${t.name}' ${where}`);
    if (Object.hasOwn(inputs, t.name))
      throw new InvalidArgumentError(`duplicate inference input '${t.name}' ${where}`);
    if (t.datatype !== s.datatype) {
      throw new InvalidArgumentError(
        `inference input '${t.name}' data-type is '${t.datatype}', but model '${spec.name}' expects '${s.datatype}'`,
      );
    }
    const expected = fullShape(spec, s);
    if (!shapeMatches(expected, t.shape)) {
      throw new InvalidArgumentError(
        `unexpected shape for input '${t.name}' ${where}. Expected ${formatShape(expected)}, got ${formatShape(t.shape)}`,
      );
    }
    if (spec.maxBatchSize > 0) {
      const b = t.shape[0]!;
      if (b < 1 || b > spec.maxBatchSize) {
        throw new InvalidArgumentError(
          `inference request batch-size must be <= ${spec.maxBatchSize} ${where}, got ${b} for input '${t.name}'`,
        );
      }
      if (batchSize !== undefined && b !== batchSize) {
        throw new InvalidArgumentError(
          `all inputs must have the same batch size ${where}; '${t.name}' has ${b}`,
        );
      }
      batchSize = b;
    }
    checkByteSize(t, `input '${t.name}'`);
    inputs[t.name] = t;
  }

  for (const [name, s] of Object.entries(spec.inputs)) {
    if (!s.optional && !Object.hasOwn(inputs, name)) {
      throw new InvalidArgumentError(`expected input '${name}' ${where}, but the request does not have it`);
    }
  }

  validateReservedParameters(request);
  const requestedOutputs = selectOutputs(spec, request);
  return {
    batchSize: batchSize ?? 1,
    execution: {
      id: request.id,
      inputs,
      parameters: request.parameters,
      requestedOutputs,
      signal: request.signal,
    },
  };
}

/** Reserved parameters mean something to the server: their types are checked, unsupported ones refused. */
function validateReservedParameters(request: InferRequest): void {
  const p = request.parameters;
  for (const key of ["timeout", "priority"] as const) {
    const v = p[key];
    if (v !== undefined && !isNonNegativeInteger(v)) {
      throw new InvalidArgumentError(
        `request parameter '${key}' must be a non-negative integer, got ${JSON.stringify(String(v))}`,
      );
    }
  }
  if (p.binary_data_output !== undefined && typeof p.binary_data_output !== "boolean") {
    throw new InvalidArgumentError("request parameter 'binary_data_output' must be a boolean");
  }
  for (const key of ["sequence_id", "sequence_start", "sequence_end"]) {
    if (p[key] !== undefined && p[key] !== 0 && p[key] !== false && p[key] !== "") {
      throw new InvalidArgumentError(
        `request parameter '${key}': sequence batching is not supported by model '${request.model}'`,
      );
    }
  }
}

function isNonNegativeInteger(v: unknown): boolean {
  return (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) || (typeof v === "bigint" && v >= 0n);
}

function selectOutputs(spec: ModelSpec, request: InferRequest): string[] {
  if (request.outputs === undefined || request.outputs.length === 0) return Object.keys(spec.outputs);
  const seen = new Set<string>();
  for (const o of request.outputs) {
    if (!Object.hasOwn(spec.outputs, o.name)) {
      throw new InvalidArgumentError(`unexpected inference output '${o.name}' for model '${spec.name}'`);
    }
    if (seen.has(o.name))
      throw new InvalidArgumentError(`duplicate inference output '${o.name}' for model '${spec.name}'`);
    seen.add(o.name);
  }
  return [...seen];
}

/** A tensor's bytes must hold exactly its shape's elements; BYTES length prefixes must stay in bounds. */
export function checkByteSize(t: Tensor, what: string): void {
  if (t.datatype === "BYTES") {
    const count = countBytesElements(t.bytes, what);
    const expected = elementCount(t.shape, what);
    if (count !== expected) {
      throw new InvalidArgumentError(
        `${what}: expected ${expected} BYTES elements for shape ${formatShape(t.shape)}, got ${count}`,
      );
    }
    return;
  }
  const expected = fixedByteSize(t.datatype, t.shape, what)!;
  if (t.byteLength !== expected) {
    throw new InvalidArgumentError(
      `${what}: unexpected byte size ${t.byteLength} for ${t.datatype} ${formatShape(t.shape)}, expected ${expected}`,
    );
  }
}

/**
 * Picks the requested outputs from what the backend returned. In strict mode each is checked
 * against its spec; outputs are always checked for self-consistency (bytes vs shape) so the
 * frontends can encode them safely.
 */
export function validateOutputs(
  spec: ModelSpec,
  result: ExecutionResult,
  requested: readonly string[],
  batchSize: number,
): Tensor[] {
  const out: Tensor[] = [];
  for (const name of requested) {
    const t = result[name];
    if (t === undefined) throw new InternalError(`model '${spec.name}' did not produce output '${name}'`);
    const tensor = t.name === name ? t : t.rename(name);
    try {
      checkByteSize(tensor, `output '${name}'`);
    } catch (err) {
      throw new InternalError(`model '${spec.name}' returned an invalid ${(err as Error).message}`);
    }
    if (spec.strict) {
      const s = spec.outputs[name]!;
      if (tensor.datatype !== s.datatype) {
        throw new InternalError(
          `model '${spec.name}' returned output '${name}' as ${tensor.datatype}, but its spec says ${s.datatype}`,
        );
      }
      const expected = fullShape(spec, s);
      if (spec.maxBatchSize > 0) expected[0] = batchSize;
      if (!shapeMatches(expected, tensor.shape)) {
        throw new InternalError(
          `model '${spec.name}' returned output '${name}' with shape ${formatShape(tensor.shape)}, expected ${formatShape(expected)}`,
        );
      }
    }
    out.push(tensor);
  }
  return out;
}
