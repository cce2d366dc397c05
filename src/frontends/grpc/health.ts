import {
  type ServerUnaryCall,
  type sendUnaryData,
  status,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import type { InferenceCore } from "../../core/inference-core.js";
import type { HealthCheckRequestMsg } from "./messages.js";

/** Names a health check may ask about: the server as a whole ("") and each service we serve. */
export const HEALTH_SERVICES: ReadonlySet<string> = new Set([
  "",
  "inference.GRPCInferenceService",
  "grpc.health.v1.Health",
]);

/**
 * grpc.health.v1.Health: SERVING while the server is ready (models loaded, not shutting down),
 * NOT_SERVING otherwise; an unknown service name is NOT_FOUND, as the protocol asks. Watch is
 * left UNIMPLEMENTED, which the protocol allows and probes do not use.
 */
export function healthService(core: InferenceCore): UntypedServiceImplementation {
  return {
    Check: (call: ServerUnaryCall<HealthCheckRequestMsg, unknown>, callback: sendUnaryData<unknown>) => {
      const service = call.request.service;
      if (!HEALTH_SERVICES.has(service)) {
        callback({ code: status.NOT_FOUND, details: `unknown service '${service}'` });
        return;
      }
      callback(null, { status: core.isReady() ? "SERVING" : "NOT_SERVING" });
    },
    Watch: (call: { emit(event: "error", err: unknown): boolean; end(): void }) => {
      call.emit("error", {
        code: status.UNIMPLEMENTED,
        details: "Watch is not supported; poll Check instead",
      });
    },
  };
}
