import type { StreamResponse } from "../../core/infer.js";
import type { InferenceCore } from "../../core/inference-core.js";
import type { SharedView } from "../../core/shared-memory.js";
import type { RequestTrace } from "../../core/trace-context.js";
import { decodeInferRequest, encodeInferResponse, requestDeadline } from "./codec.js";
import type { ModelInferRequestMsg, ModelStreamInferResponseOut } from "./messages.js";

/** One stream message and the memory to give back once it is written (a Python worker's slot). */
export interface StreamMessage {
  readonly out: ModelStreamInferResponseOut;
  readonly release?: (() => void) | undefined;
}

/**
 * One request to a decoupled model on ModelStreamInfer, as Triton answers it: every response is
 * its own stream message carrying the request's id and `triton_final_response` (false, and true
 * on the last); the final flag alone becomes an empty message only when the request asked for it
 * with `triton_enable_empty_final_response: true`; an error response is `error_message` with the
 * request's id and model. Resolves once the final response was handed to `emit`.
 */
export async function inferDecoupledOne(
  core: InferenceCore,
  msg: ModelInferRequestMsg,
  signal: AbortSignal,
  callDeadline: Date | number,
  trace: RequestTrace | undefined,
  emit: (message: StreamMessage) => void,
): Promise<void> {
  const views: SharedView[] = [];
  const decoded = decodeInferRequest(msg, (ref, what) => core.sharedMemory.view(ref, what), views);
  const emptyFinal = decoded.parameters.triton_enable_empty_final_response === true;
  const head = { id: msg.id, model_name: msg.model_name, model_version: msg.model_version };
  const deadline = requestDeadline(callDeadline);
  const onResponse = (r: StreamResponse): void => {
    const final = { triton_final_response: { bool_param: r.final } };
    if (r.error !== undefined) {
      emit({ out: { error_message: r.error.message, infer_response: { ...head, parameters: final } } });
    } else if (r.response !== undefined) {
      const encoded = encodeInferResponse(r.response);
      emit({
        out: {
          error_message: "",
          infer_response: { ...encoded, parameters: { ...encoded.parameters, ...final } },
        },
        release: r.response.release,
      });
    } else if (r.final && emptyFinal) {
      emit({ out: { error_message: "", infer_response: { ...head, parameters: final } } });
    }
  };
  try {
    await core.inferStream(
      {
        ...decoded,
        signal,
        ...(deadline !== undefined ? { deadline } : {}),
        ...(trace !== undefined ? { trace } : {}),
      },
      onResponse,
    );
  } finally {
    for (const v of views) v.release();
  }
}
