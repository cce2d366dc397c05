import type { Metadata } from "@grpc/grpc-js";
import { UnimplementedError } from "../../core/errors.js";
import type { InferenceCore } from "../../core/inference-core.js";
import type { SharedView } from "../../core/shared-memory.js";
import { type RequestTrace, traceOf } from "../../core/trace-context.js";
import { decodeInferRequest, encodeInferResponse, requestDeadline } from "./codec.js";
import type { ModelInferRequestMsg, ModelInferResponseOut } from "./messages.js";

/** An empty protobuf string means "not given" (the latest version, every model). */
export const opt = (s: string): string | undefined => (s === "" ? undefined : s);

/** One ModelInferRequest through the core; shared by ModelInfer and ModelStreamInfer. */
export async function inferOne(
  core: InferenceCore,
  msg: ModelInferRequestMsg,
  signal: AbortSignal,
  callDeadline: Date | number,
  trace?: RequestTrace,
): Promise<ModelInferResponseOut> {
  // Resolve the model first, so an unknown model is NOT_FOUND even when the request is also malformed.
  core.isModelReady(msg.model_name, opt(msg.model_version));
  // Triton's wording and status; ModelStreamInfer sends decoupled models elsewhere (stream-decoupled.ts).
  if (core.isModelDecoupled(msg.model_name, opt(msg.model_version)))
    throw new UnimplementedError("ModelInfer RPC doesn't support models with decoupled transaction policy");
  const views: SharedView[] = [];
  const decoded = decodeInferRequest(msg, (ref, what) => core.sharedMemory.view(ref, what), views);
  const deadline = requestDeadline(callDeadline);
  try {
    const response = await core.infer({
      ...decoded,
      signal,
      ...(deadline !== undefined ? { deadline } : {}),
      ...(trace !== undefined ? { trace } : {}),
    });
    // Serialized before the views go: an output may still be a view of an input's region.
    const out = detachedFromRegions(encodeInferResponse(response), views.length > 0);
    if (response.release !== undefined) releases.set(out, response.release);
    return out;
  } finally {
    for (const v of views) v.release();
  }
}

/** Output memory to give back once a response is serialized (a Python worker's slots). */
const releases = new WeakMap<ModelInferResponseOut, () => void>();

/**
 * Gives back the memory a response's outputs view. ModelInfer calls it right after handing the
 * response to grpc-js, which serializes a unary reply synchronously in that call (our
 * interceptors act on receiving only); ModelStreamInfer calls it from the write's callback.
 */
export function releaseResponse(out: ModelInferResponseOut): void {
  const release = releases.get(out);
  releases.delete(out);
  release?.();
}

/**
 * grpc-js serializes the response after the handler returns: outputs that are views of a
 * client's region are copied first, since the region may be unmapped by then.
 */
function detachedFromRegions(out: ModelInferResponseOut, fromShared: boolean): ModelInferResponseOut {
  if (!fromShared) return out;
  return { ...out, raw_output_contents: out.raw_output_contents.map((b) => Buffer.from(b)) };
}

/** The trace context of a call from its `traceparent` and `x-request-id` metadata. */
export function callTrace(metadata: Metadata): RequestTrace | undefined {
  return traceOf((name) => metadata.get(name));
}
