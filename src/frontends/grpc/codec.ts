import { isDatatype } from "../../core/datatypes.js";
import { InvalidArgumentError } from "../../core/errors.js";
import type {
  InferRequest,
  InferResponse,
  Parameters,
  ParameterValue,
  RequestedOutput,
} from "../../core/infer.js";
import { elementCount, fixedByteSize } from "../../core/shape.js";
import {
  type SharedMemoryRef,
  type SharedView,
  sharedMemoryRef,
  tensorOfView,
} from "../../core/shared-memory.js";
import { Tensor } from "../../core/tensor.js";
import { hasTypedContents, typedContentsToBytes } from "./contents.js";
import type {
  InferInputTensorMsg,
  InferParameterOut,
  ModelInferRequestMsg,
  ModelInferResponseOut,
  ParameterMapMsg,
} from "./messages.js";

/**
 * ModelInferRequest ⇄ InferRequest and InferResponse → ModelInferResponse. Translation only:
 * checks against the model's spec (names, datatypes, byte sizes) happen behind the core, the
 * same for every frontend. What is checked here is what only the gRPC form can get wrong.
 */

/** Resolves an input's shared-memory parameters to its memory (the shared-memory extension). */
export type SharedInput = (ref: SharedMemoryRef, what: string) => SharedView;

/**
 * Decodes everything but `signal` and `deadline`, which come from the call. Inputs in shared
 * memory get views from `sharedInput`, pushed on `views` for the caller to release.
 */
export function decodeInferRequest(
  msg: ModelInferRequestMsg,
  sharedInput?: SharedInput,
  views: SharedView[] = [],
): Omit<InferRequest, "signal" | "deadline"> {
  try {
    return decodeWithViews(msg, sharedInput, views);
  } catch (err) {
    for (const v of views) v.release();
    throw err;
  }
}

function decodeWithViews(
  msg: ModelInferRequestMsg,
  sharedInput: SharedInput | undefined,
  views: SharedView[],
): Omit<InferRequest, "signal" | "deadline"> {
  const raw = msg.raw_input_contents;
  const useRaw = raw.length > 0;
  // raw_input_contents holds one entry per input that is not in shared memory, in order.
  const refs = msg.inputs.map((input) =>
    sharedMemoryRef(decodeParameters(input.parameters, `input '${input.name}'`), `input '${input.name}'`),
  );
  const inBody = refs.filter((r) => r === undefined).length;
  if (useRaw && raw.length !== inBody) {
    throw new InvalidArgumentError(
      `expected ${inBody} raw_input_contents (one per input not in shared memory), got ${raw.length}`,
    );
  }
  let next = 0;
  const inputs = msg.inputs.map((input, i) => {
    const { name, datatype, shape } = decodeInputHeader(input, i);
    const what = `input '${name}'`;
    const ref = refs[i];
    if (ref !== undefined) {
      if (hasTypedContents(input.contents))
        throw new InvalidArgumentError(`${what}: has shared-memory parameters and contents too`);
      if (!sharedInput) throw new InvalidArgumentError(`${what}: shared memory is not available here`);
      const view = sharedInput(ref, what);
      views.push(view);
      return tensorOfView(name, datatype, shape, view);
    }
    if (!useRaw)
      return new Tensor(name, datatype, shape, typedContentsToBytes(datatype, shape, input.contents, what));
    if (hasTypedContents(input.contents)) {
      throw new InvalidArgumentError(
        `${what}: contents and raw_input_contents cannot be mixed in one request; send all inputs one way`,
      );
    }
    // A view into the received message: no copy. Its size is checked against the shape by the core.
    return new Tensor(name, datatype, shape, raw[next++]!);
  });
  const outputs = msg.outputs.map(
    (o): RequestedOutput => ({
      name: o.name,
      parameters: decodeParameters(o.parameters, `output '${o.name}'`),
    }),
  );
  return {
    ...(msg.id !== "" ? { id: msg.id } : {}),
    model: msg.model_name,
    ...(msg.model_version !== "" ? { version: msg.model_version } : {}),
    parameters: decodeParameters(msg.parameters, "request"),
    inputs,
    ...(outputs.length > 0 ? { outputs } : {}),
  };
}

function decodeInputHeader(input: InferInputTensorMsg, index: number) {
  if (input.name === "") throw new InvalidArgumentError(`inputs[${index}] needs a name`);
  const what = `input '${input.name}'`;
  if (!isDatatype(input.datatype))
    throw new InvalidArgumentError(`${what}: unknown datatype '${input.datatype}'`);
  const shape = input.shape.map((d) => {
    const n = Number(d);
    if (!Number.isSafeInteger(n) || n < 0)
      throw new InvalidArgumentError(`${what}: invalid dimension ${d} in shape`);
    return n;
  });
  // Overflowing shapes are rejected here, before anything is sized from them.
  elementCount(shape, what);
  fixedByteSize(input.datatype, shape, what);
  return { name: input.name, datatype: input.datatype, shape };
}

/** InferParameter map → Parameters; 64-bit integers become numbers when exact, else bigints. */
export function decodeParameters(map: ParameterMapMsg, what: string): Parameters {
  const out: Parameters = {};
  for (const [key, p] of Object.entries(map)) {
    let value: ParameterValue;
    switch (p.parameter_choice) {
      case "bool_param":
        value = p.bool_param ?? false;
        break;
      case "int64_param":
        value = exactInteger(p.int64_param ?? "0");
        break;
      case "uint64_param":
        value = exactInteger(p.uint64_param ?? "0");
        break;
      case "double_param":
        value = p.double_param ?? 0;
        break;
      case "string_param":
        value = p.string_param ?? "";
        break;
      default:
        throw new InvalidArgumentError(`${what}: parameter '${key}' has no value`);
    }
    out[key] = value;
  }
  return out;
}

function exactInteger(decimal: string): number | bigint {
  const n = Number(decimal);
  return Number.isSafeInteger(n) ? n : BigInt(decimal);
}

const INT64_MAX = (1n << 63n) - 1n;

/** Parameters → InferParameter map: integers as int64 (uint64 above int64's range), other numbers as double. */
export function encodeParameters(params: Parameters): Record<string, InferParameterOut> {
  const out: Record<string, InferParameterOut> = {};
  for (const [key, v] of Object.entries(params)) {
    if (typeof v === "boolean") out[key] = { bool_param: v };
    else if (typeof v === "string") out[key] = { string_param: v };
    else if (typeof v === "bigint")
      out[key] = v > INT64_MAX ? { uint64_param: v.toString() } : { int64_param: v.toString() };
    else out[key] = Number.isSafeInteger(v) ? { int64_param: v } : { double_param: v };
  }
  return out;
}

/**
 * The call's gRPC deadline on the `performance.now()` time line. The `timeout` parameter is not
 * folded in: the model's queue policy decides what it does (reject or delay, override allowed).
 */
export function requestDeadline(callDeadline: Date | number): number | undefined {
  const at = callDeadline instanceof Date ? callDeadline.getTime() : callDeadline;
  return Number.isFinite(at) ? performance.now() + (at - Date.now()) : undefined;
}

/** Every output goes in raw_output_contents, one entry per output: tritonclient reads only that. */
export function encodeInferResponse(res: InferResponse): ModelInferResponseOut {
  return {
    model_name: res.model,
    model_version: res.version,
    id: res.id ?? "",
    parameters: encodeParameters(res.parameters),
    outputs: res.outputs.map((t) => {
      const shared = res.sharedOutputs?.get(t.name);
      const parameters =
        shared === undefined
          ? {}
          : encodeParameters({
              shared_memory_region: shared.region,
              shared_memory_byte_size: t.bytes.byteLength,
              ...(shared.offset > 0 ? { shared_memory_offset: shared.offset } : {}),
            });
      return { name: t.name, datatype: t.datatype, shape: t.shape, parameters };
    }),
    // An output in the client's region has an empty entry, so the others keep their index.
    raw_output_contents: res.outputs.map((t) => (res.sharedOutputs?.has(t.name) ? EMPTY : asBuffer(t.bytes))),
  };
}

const EMPTY = Buffer.alloc(0);

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
