import { DATATYPES, isDatatype } from "../../core/datatypes.js";
import { InvalidArgumentError, isTensorbindError } from "../../core/errors.js";
import type {
  InferRequest,
  InferResponse,
  Parameters,
  ParameterValue,
  RequestedOutput,
} from "../../core/infer.js";
import { DEFAULT_REQUEST_LIMITS, type RequestLimits } from "../../core/request-limits.js";
import { elementCount, fixedByteSize } from "../../core/shape.js";
import {
  type SharedMemoryRef,
  type SharedView,
  sharedMemoryRef,
  tensorOfView,
} from "../../core/shared-memory.js";
import { Tensor } from "../../core/tensor.js";
import { describeValue } from "./describe-value.js";
import { jsonDataToBytes, tensorToJsonBytes } from "./json-data.js";
import { checkJsonCounts } from "./json-limits.js";
import { parseJson } from "./json-parse.js";
import {
  decodeScannedData,
  JSON_SCAN_MIN_BYTES,
  type ScannedHeader,
  scanJsonHeader,
  TakeGeneralPath,
} from "./json-scan.js";

/** The KServe v2 HTTP infer body, JSON and binary-tensor extension, both ways. */

export const HEADER_LENGTH = "inference-header-content-length";

export interface DecodeOptions {
  /** Caps on inputs, outputs and parameters (default DEFAULT_REQUEST_LIMITS). */
  readonly limits?: RequestLimits;
  readonly model: string;
  readonly version: string | undefined;
  /** Inference-Header-Content-Length, if present. */
  readonly headerLength: string | undefined;
  /** For a raw body (header length 0): the single input's name, datatype and shape, from the spec. */
  readonly rawInput?: (byteLength: number) => { name: string; datatype: Tensor["datatype"]; shape: number[] };
  /** Resolves an input's shared-memory parameters to its memory (the shared-memory extension). */
  readonly sharedInput?: (ref: SharedMemoryRef, what: string) => SharedView;
  /** JSON parts from this size on have their `data` read by the addon (default JSON_SCAN_MIN_BYTES). */
  readonly jsonScanMinBytes?: number;
  /** A whole-JSON body scanned, and its `data` read, already (json-offload.ts prepareJsonBody). */
  readonly prepared?: ScannedHeader | undefined;
}

export interface DecodedRequest {
  readonly request: Omit<InferRequest, "signal" | "deadline">;
  /** Outputs to send in binary form. */
  readonly binaryOutputs: ReadonlySet<string> | "all";
  /** Shared-memory views the inputs use: release them once the response is written. */
  readonly views: readonly SharedView[];
}

export function decodeInferRequest(body: Buffer, opts: DecodeOptions): DecodedRequest {
  for (const scan of [true, false]) {
    const views: SharedView[] = [];
    try {
      return decodeWithViews(body, opts, views, scan);
    } catch (err) {
      for (const v of views) v.release();
      // Errors come from the general path only: the scanning one reads `data` arrays (checking
      // them) only as it reaches them, so it may meet a bad header before a malformed array
      // that the general path, parsing the whole text first, reports instead.
      if (!scan || !(err instanceof TakeGeneralPath || isTensorbindError(err))) throw err;
    }
  }
  throw new Error("unreachable: the general path never takes the fast path's exit");
}

function decodeWithViews(
  body: Buffer,
  opts: DecodeOptions,
  views: SharedView[],
  scan: boolean,
): DecodedRequest {
  let headerLength = body.length;
  if (opts.headerLength !== undefined) {
    if (!/^[0-9]{1,15}$/.test(opts.headerLength.trim())) {
      throw new InvalidArgumentError(`invalid Inference-Header-Content-Length '${opts.headerLength}'`);
    }
    headerLength = Number(opts.headerLength);
    if (headerLength > body.length) {
      throw new InvalidArgumentError(
        `Inference-Header-Content-Length ${headerLength} is larger than the request body (${body.length} bytes)`,
      );
    }
    if (headerLength === 0) return decodeRawBody(body, opts);
  }
  const scanned: ScannedHeader | undefined = !scan
    ? undefined
    : opts.prepared !== undefined && headerLength === body.length
      ? opts.prepared
      : headerLength >= (opts.jsonScanMinBytes ?? JSON_SCAN_MIN_BYTES)
        ? scanJsonHeader(body, headerLength)
        : undefined;
  const header = scanned !== undefined ? scanned.header : parseJson(body.toString("utf8", 0, headerLength));
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw new InvalidArgumentError("inference request must be a JSON object");
  }
  const h = header as Record<string, unknown>;
  checkJsonCounts(h, opts.limits ?? DEFAULT_REQUEST_LIMITS);
  const { binary_data_output: binaryDataOutput, ...parameters } = decodeParameters(h.parameters, "request");
  // binary_data_output is the HTTP frontend's own business (as in Triton): the model never sees it.
  if (binaryDataOutput !== undefined && typeof binaryDataOutput !== "boolean") {
    throw new InvalidArgumentError("request parameter 'binary_data_output' must be a boolean");
  }
  if (!Array.isArray(h.inputs))
    throw new InvalidArgumentError("inference request must have an 'inputs' array");

  let offset = headerLength;
  const inputs = h.inputs.map((raw, index) => {
    const input = decodeInputHeader(raw, index);
    const what = `input '${input.name}'`;
    const binarySize = input.parameters.binary_data_size;
    const ref = sharedMemoryRef(input.parameters, what);
    let bytes: Uint8Array;
    if (ref !== undefined) {
      if (binarySize !== undefined || input.data !== undefined)
        throw new InvalidArgumentError(`${what}: has shared-memory parameters and data too`);
      if (!opts.sharedInput) throw new InvalidArgumentError(`${what}: shared memory is not available here`);
      const view = opts.sharedInput(ref, what);
      views.push(view);
      return tensorOfView(input.name, input.datatype, input.shape, view);
    } else if (binarySize !== undefined) {
      if (typeof binarySize !== "number" || !Number.isSafeInteger(binarySize) || binarySize < 0) {
        throw new InvalidArgumentError(`${what}: binary_data_size must be a non-negative integer`);
      }
      if (input.data !== undefined)
        throw new InvalidArgumentError(`${what}: has both 'data' and binary_data_size`);
      if (binarySize > body.length - offset) {
        throw new InvalidArgumentError(
          `${what}: binary_data_size ${binarySize} runs past the end of the request body`,
        );
      }
      bytes = body.subarray(offset, offset + binarySize);
      offset += binarySize;
    } else {
      if (input.data === undefined)
        throw new InvalidArgumentError(`${what}: has neither 'data' nor binary_data_size`);
      const range = scanned?.data.get(index);
      const early = scanned?.decoded?.get(index);
      if (range === undefined) bytes = jsonDataToBytes(input.datatype, input.shape, input.data, what);
      else if (early?.datatype === input.datatype && early.shape === JSON.stringify(input.shape))
        bytes = early.bytes;
      else bytes = decodeScannedData(body, range, input.datatype, input.shape, what);
    }
    return new Tensor(input.name, input.datatype, input.shape, bytes);
  });
  if (offset !== body.length) {
    throw new InvalidArgumentError(
      `request body has ${body.length - offset} bytes beyond the header and the binary_data_size of its inputs`,
    );
  }

  const { outputs, binaryOutputs } = decodeOutputs(h.outputs, binaryDataOutput === true);
  const id = h.id;
  if (id !== undefined && typeof id !== "string") throw new InvalidArgumentError("'id' must be a string");
  return {
    request: {
      ...(id !== undefined ? { id } : {}),
      model: opts.model,
      ...(opts.version !== undefined ? { version: opts.version } : {}),
      parameters,
      inputs,
      ...(outputs !== undefined ? { outputs } : {}),
    },
    binaryOutputs,
    views,
  };
}

function decodeRawBody(body: Buffer, opts: DecodeOptions): DecodedRequest {
  if (!opts.rawInput)
    throw new InvalidArgumentError("a raw request body needs a model with exactly one input");
  const input = opts.rawInput(body.length);
  return {
    request: {
      model: opts.model,
      ...(opts.version !== undefined ? { version: opts.version } : {}),
      parameters: {},
      inputs: [new Tensor(input.name, input.datatype, input.shape, body)],
    },
    binaryOutputs: "all",
    views: [],
  };
}

interface InputHeader {
  name: string;
  datatype: Tensor["datatype"];
  shape: number[];
  parameters: Parameters;
  data: unknown;
}

function decodeInputHeader(raw: unknown, index: number): InputHeader {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new InvalidArgumentError(`inputs[${index}] must be an object`);
  }
  const r = raw as Record<string, unknown>;
  if (typeof r.name !== "string" || r.name === "")
    throw new InvalidArgumentError(`inputs[${index}] needs a 'name' string`);
  const what = `input '${r.name}'`;
  if (!isDatatype(r.datatype))
    throw new InvalidArgumentError(`${what}: unknown datatype ${describeValue(r.datatype)}`);
  if (!Array.isArray(r.shape))
    throw new InvalidArgumentError(`${what}: 'shape' must be an array of integers`);
  const shape = r.shape.map((d) => {
    if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 0) {
      throw new InvalidArgumentError(`${what}: invalid dimension ${describeValue(d)} in shape`);
    }
    return d;
  });
  elementCount(shape, what);
  fixedByteSize(r.datatype, shape, what);
  return {
    name: r.name,
    datatype: r.datatype,
    shape,
    parameters: decodeParameters(r.parameters, what),
    data: r.data,
  };
}

function decodeOutputs(
  raw: unknown,
  allBinary: boolean,
): { outputs: RequestedOutput[] | undefined; binaryOutputs: Set<string> | "all" } {
  if (raw === undefined) return { outputs: undefined, binaryOutputs: allBinary ? "all" : new Set() };
  if (!Array.isArray(raw)) throw new InvalidArgumentError("'outputs' must be an array");
  const binary = new Set<string>();
  const outputs = raw.map((o, i): RequestedOutput => {
    if (typeof o !== "object" || o === null || typeof (o as { name?: unknown }).name !== "string") {
      throw new InvalidArgumentError(`outputs[${i}] needs a 'name' string`);
    }
    const name = (o as { name: string }).name;
    const params = decodeParameters((o as { parameters?: unknown }).parameters, `output '${name}'`);
    const b = params.binary_data;
    if (b !== undefined && typeof b !== "boolean")
      throw new InvalidArgumentError(`output '${name}': binary_data must be a boolean`);
    if (b ?? allBinary) binary.add(name);
    if (params.classification !== undefined) {
      throw new InvalidArgumentError(`output '${name}': the classification extension is not supported`);
    }
    return { name, parameters: params };
  });
  return { outputs, binaryOutputs: binary };
}

function decodeParameters(raw: unknown, what: string): Parameters {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== "object" || Array.isArray(raw))
    throw new InvalidArgumentError(`${what}: 'parameters' must be an object`);
  const out: Parameters = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean" && typeof v !== "bigint") {
      throw new InvalidArgumentError(`${what}: parameter '${k}' must be a string, number or boolean`);
    }
    out[k] = v as ParameterValue;
  }
  return out;
}

/** An encoded response: a JSON header and, for binary outputs, the buffers that follow it. */
export interface EncodedResponse {
  /**
   * The JSON part, UTF-8, in pieces to write one after the other: output data arrays are bytes
   * written by the formatter, never one large string, nor copied into one buffer.
   */
  readonly json: readonly Buffer[];
  /** Bytes in `json`. */
  readonly jsonLength: number;
  /** Binary output buffers, in output order; empty for a pure JSON response. */
  readonly binary: readonly Uint8Array[];
}

export function encodeInferResponse(
  res: InferResponse,
  binaryOutputs: ReadonlySet<string> | "all",
  /** JSON text of outputs formatted already (json-offload.ts formatJsonOutputs), by name. */
  formatted?: ReadonlyMap<string, Buffer>,
): EncodedResponse {
  const binary: Uint8Array[] = [];
  const parts: Buffer[] = [];
  let text = res.id !== undefined ? `{"id":${JSON.stringify(res.id)},` : "{";
  text += `"model_name":${JSON.stringify(res.model)},"model_version":${JSON.stringify(res.version)},"outputs":[`;
  res.outputs.forEach((t, i) => {
    if (i > 0) text += ",";
    text += `{"name":${JSON.stringify(t.name)},"datatype":"${t.datatype}","shape":[${t.shape.join(",")}]`;
    // Written into the client's region already: no data and, as in Triton, no parameters
    // (Triton's C++ client reads binary_data_size from any parameters object it finds).
    if (res.sharedOutputs?.has(t.name)) {
      text += "}";
      return;
    }
    const asBinary = binaryOutputs === "all" || binaryOutputs.has(t.name) || !DATATYPES[t.datatype].json;
    if (asBinary) {
      binary.push(t.bytes);
      text += `,"parameters":{"binary_data_size":${t.bytes.byteLength}}}`;
      return;
    }
    const data = formatted?.get(t.name) ?? tensorToJsonBytes(t);
    // Small data joins the text (one buffer, one write); large data stays a piece of its own.
    if (data.length < 16 * 1024) {
      text += `,"data":${data.toString("utf8")}}`;
      return;
    }
    parts.push(Buffer.from(`${text},"data":`, "utf8"), data);
    text = "}";
  });
  parts.push(Buffer.from(`${text}]}`, "utf8"));
  let jsonLength = 0;
  for (const p of parts) jsonLength += p.length;
  return { json: parts, jsonLength, binary };
}
