import type { Metadata } from "@grpc/grpc-js";
import type { InferenceCore } from "../../core/inference-core.js";
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
  const decoded = decodeInferRequest(msg);
  const deadline = requestDeadline(callDeadline);
  const response = await core.infer({
    ...decoded,
    signal,
    ...(deadline !== undefined ? { deadline } : {}),
    ...(trace !== undefined ? { trace } : {}),
  });
  return encodeInferResponse(response);
}

/** The trace context of a call from its `traceparent` and `x-request-id` metadata. */
export function callTrace(metadata: Metadata): RequestTrace | undefined {
  return traceOf((name) => metadata.get(name));
}
