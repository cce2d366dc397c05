import { ServerInterceptingCall, type ServerInterceptor } from "@grpc/grpc-js";
import { toTensorbindError } from "../../core/errors.js";
import { checkCount, type RequestLimits } from "../../core/request-limits.js";
import type { ModelInferRequestMsg } from "./messages.js";

const INFER_METHODS = new Set([
  "/inference.GRPCInferenceService/ModelInfer",
  "/inference.GRPCInferenceService/ModelStreamInfer",
]);

/** Ends an infer call whose message holds more inputs, outputs or parameters than the limits allow. */
export function requestLimitsInterceptor(limits: RequestLimits): ServerInterceptor {
  return (method, call) => {
    if (!INFER_METHODS.has(method.path)) return new ServerInterceptingCall(call);
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMessage: (message, nextMessage) => {
            try {
              checkMessage(message as ModelInferRequestMsg, limits);
            } catch (err) {
              const e = toTensorbindError(err);
              call.sendStatus({ code: e.status.grpc, details: e.message });
              return;
            }
            nextMessage(message);
          },
        }),
    });
  };
}

function checkMessage(msg: ModelInferRequestMsg, limits: RequestLimits): void {
  // An undecodable message is a marker without these fields; rejectUndecodable answers it.
  if (!Array.isArray(msg.inputs)) return;
  checkCount("inputs", msg.inputs.length, limits.maxInputs);
  checkCount("outputs", msg.outputs.length, limits.maxOutputs);
  checkCount("parameters", Object.keys(msg.parameters).length, limits.maxParameters);
  for (const t of [...msg.inputs, ...msg.outputs])
    checkCount("parameters", Object.keys(t.parameters).length, limits.maxParameters, "a tensor");
}
