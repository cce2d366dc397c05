import type { IncomingMessage, ServerResponse } from "node:http";
import type { RequestBuffer } from "../../core/backend.js";
import { DATATYPES } from "../../core/datatypes.js";
import { InvalidArgumentError, ResourceExhaustedError, UnimplementedError } from "../../core/errors.js";
import type { InferRequest, Parameters } from "../../core/infer.js";
import type { InferenceCore } from "../../core/inference-core.js";
import type { RequestLimits } from "../../core/request-limits.js";
import { traceOf } from "../../core/trace-context.js";
import { binaryBodyLayout, readBody, readBodyInto, releaseWhenClosed } from "./body.js";
import { decodeInferRequest, encodeInferResponse, HEADER_LENGTH } from "./infer-codec.js";
import { formatJsonOutputs, type PreparedBody, prepareJsonBody } from "./json-offload.js";

export interface InferHandlerOptions {
  readonly maxBodyBytes: number;
  /** Largest JSON part: parsing it holds the event loop (about 25-60 ms per MiB), so it is capped apart from binary data. */
  readonly maxJsonBytes: number;
  readonly limits?: RequestLimits | undefined;
  readonly headerForwardPattern: RegExp | undefined;
}

/** POST /v2/models/{m}[/versions/{v}]/infer */
export async function handleInfer(
  core: InferenceCore,
  req: IncomingMessage,
  res: ServerResponse,
  model: string,
  version: string | undefined,
  options: InferHandlerOptions,
): Promise<void> {
  // Resolve the model first, so an unknown model is a 404 even with a bad body.
  core.isModelReady(model, version);
  if (core.isModelDecoupled(model, version))
    throw new UnimplementedError("HTTP end point doesn't support models with decoupled transaction policy");
  const rawHeaderLength = req.headers[HEADER_LENGTH];
  const headerLength = Array.isArray(rawHeaderLength) ? rawHeaderLength[0] : rawHeaderLength;
  // A binary body of known length goes straight into memory the model's backend lends (a Python
  // model's shared memory), its tensor data 64-byte aligned: no concatenation, no later copy.
  const layout = binaryBodyLayout(req, headerLength, options.maxBodyBytes);
  let lent: RequestBuffer | undefined;
  try {
    let body: Buffer;
    if (layout !== undefined) {
      lent = core.requestBuffer(model, version, layout.byteLength, layout.alignAt);
      body = await readBodyInto(req, res, lent.bytes);
    } else if (headerLength === undefined) {
      // Without the binary extension the whole body is JSON.
      body = await readBody(req, Math.min(options.maxBodyBytes, options.maxJsonBytes), "JSON request body");
    } else {
      body = await readBody(req, options.maxBodyBytes);
    }
    await inferDecoded({ core, req, res, model, version, options }, body, headerLength);
  } finally {
    if (lent !== undefined) releaseWhenClosed(res, lent.release);
  }
}

/** What every step of one infer call is about. */
interface InferCall {
  readonly core: InferenceCore;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly model: string;
  readonly version: string | undefined;
  readonly options: InferHandlerOptions;
}

/** Not async: a binary request goes on to inferPrepared without a promise and frame of its own. */
function inferDecoded(call: InferCall, body: Buffer, headerLength: string | undefined): Promise<void> {
  if (headerLength === undefined) return inferJson(call, body);
  const jsonLength = Number(headerLength);
  const { maxJsonBytes } = call.options;
  // A length past the body is the codec's 400; one within it but over the JSON limit is refused here.
  if (jsonLength <= body.length && jsonLength > maxJsonBytes)
    throw new ResourceExhaustedError(
      `JSON request header of ${headerLength} bytes exceeds the limit of ${maxJsonBytes} bytes (--max-json-bytes)`,
    );
  return inferPrepared(call, body, headerLength, undefined);
}

async function inferJson(call: InferCall, body: Buffer): Promise<void> {
  const { core, res, model, version, options } = call;
  // A whole-JSON body is a heap buffer of its own: its numbers are read off the event loop,
  // into memory the model's backend lends (a Python model's shared memory) where it has some.
  const preparing = prepareJsonBody(body, {
    limits: options.limits,
    allocate: (n) => core.requestBuffer(model, version, n, 0),
  });
  const prepared = preparing === undefined ? undefined : await preparing;
  try {
    await inferPrepared(call, body, undefined, prepared);
  } finally {
    // The lent memory lives until the response is written (the inputs may be views of it).
    if (prepared?.release !== undefined) releaseWhenClosed(res, prepared.release);
  }
}

async function inferPrepared(
  call: InferCall,
  body: Buffer,
  headerLength: string | undefined,
  prepared: PreparedBody | undefined,
): Promise<void> {
  const { core, req, res, model, version, options } = call;
  const decoded = decodeInferRequest(body, {
    prepared,
    model,
    version,
    ...(options.limits !== undefined && { limits: options.limits }),
    headerLength,
    rawInput: (byteLength) => rawInputOf(core, model, version, byteLength),
    sharedInput: (ref, what) => core.sharedMemory.view(ref, what),
  });
  // The response may be written from a region's memory: views live until it has gone out.
  if (decoded.views.length > 0) res.once("close", () => releaseAll(decoded.views));

  // The client going away aborts the request: a queued one is then never executed.
  const abort = new AbortController();
  const onClose = () => {
    if (!res.writableFinished) abort.abort();
  };
  res.once("close", onClose);

  // The `timeout` parameter stays a parameter: the model's queue policy decides what it does.
  const parameters = forwardHeaders(decoded.request.parameters, req, options.headerForwardPattern);
  const trace = traceOf((name) => req.headers[name]);
  const request: InferRequest = {
    ...decoded.request,
    parameters,
    signal: abort.signal,
    ...(trace !== undefined ? { trace } : {}),
  };
  const response = await core.infer(request);
  res.off("close", onClose);
  // Output memory (a Python worker's slots) goes back once the response is written or abandoned,
  // and not before large JSON outputs have been formatted from it on pool threads.
  let formatted: Map<string, Buffer> | undefined;
  try {
    const formatting = formatJsonOutputs(response, decoded.binaryOutputs);
    formatted = formatting === undefined ? undefined : await formatting;
  } finally {
    if (response.release !== undefined) releaseWhenClosed(res, response.release);
  }
  const encoded = encodeInferResponse(response, decoded.binaryOutputs, formatted);
  if (res.headersSent || res.destroyed) return;
  let total = encoded.jsonLength;
  for (const b of encoded.binary) total += b.byteLength;
  res.writeHead(
    200,
    encoded.binary.length === 0
      ? { "Content-Type": "application/json", "Content-Length": total }
      : {
          "Content-Type": "application/octet-stream",
          "Content-Length": total,
          "Inference-Header-Content-Length": encoded.jsonLength,
        },
  );
  // Each piece goes to the socket as it is: no concatenation copy.
  res.cork();
  for (const p of encoded.json) res.write(p);
  for (const b of encoded.binary) res.write(b);
  res.end();
  res.uncork();
}

function releaseAll(views: readonly { release(): void }[]): void {
  for (const v of views) v.release();
}

function forwardHeaders(params: Parameters, req: IncomingMessage, pattern: RegExp | undefined): Parameters {
  if (!pattern) return params;
  const out: Parameters = { ...params };
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined && pattern.test(name)) out[name] = Array.isArray(value) ? value.join(",") : value;
  }
  return out;
}

/** The single input of a model, for a raw body: batch dim 1, and one variable dim inferred from the size. */
function rawInputOf(core: InferenceCore, model: string, version: string | undefined, byteLength: number) {
  const meta = core.modelMetadata(model, version);
  const config = core.modelConfig(model, version);
  if (meta.inputs.length !== 1) {
    throw new InvalidArgumentError(
      `a raw request body (Inference-Header-Content-Length: 0) needs a single-input model; '${model}' has ${meta.inputs.length}`,
    );
  }
  const input = meta.inputs[0]!;
  const shape = [...input.shape];
  if (config.max_batch_size > 0) shape[0] = 1;
  const size = DATATYPES[input.datatype].size;
  const unknown = shape.filter((d) => d === -1).length;
  if (unknown > 0) {
    const known = shape.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    if (unknown > 1 || size === 0 || known === 0 || byteLength % (known * size) !== 0) {
      throw new InvalidArgumentError(
        `cannot infer the shape of input '${input.name}' from a raw body of ${byteLength} bytes`,
      );
    }
    shape[shape.indexOf(-1)] = byteLength / (known * size);
  }
  return { name: input.name, datatype: input.datatype, shape };
}
