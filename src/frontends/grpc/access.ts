import { ServerInterceptingCall, type ServerInterceptor } from "@grpc/grpc-js";
import type { AccessControl } from "../../core/access.js";
import { toTensorbindError } from "../../core/errors.js";
import type { ApiGroup } from "../../core/restricted-api.js";

/** The API group of each RPC, as in Triton's restricted-API scheme. */
const GROUPS: Readonly<Record<string, ApiGroup>> = {
  "/inference.GRPCInferenceService/ServerLive": "health",
  "/inference.GRPCInferenceService/ServerReady": "health",
  "/inference.GRPCInferenceService/ModelReady": "health",
  "/grpc.health.v1.Health/Check": "health",
  "/grpc.health.v1.Health/Watch": "health",
  "/inference.GRPCInferenceService/ServerMetadata": "metadata",
  "/inference.GRPCInferenceService/ModelMetadata": "metadata",
  "/inference.GRPCInferenceService/ModelInfer": "inference",
  "/inference.GRPCInferenceService/ModelStreamInfer": "inference",
  "/inference.GRPCInferenceService/ModelConfig": "model-config",
  "/inference.GRPCInferenceService/ModelStatistics": "statistics",
  "/inference.GRPCInferenceService/RepositoryIndex": "model-repository",
  "/inference.GRPCInferenceService/RepositoryModelLoad": "model-repository",
  "/inference.GRPCInferenceService/RepositoryModelUnload": "model-repository",
  "/inference.GRPCInferenceService/SystemSharedMemoryStatus": "shared-memory",
  "/inference.GRPCInferenceService/SystemSharedMemoryRegister": "shared-memory",
  "/inference.GRPCInferenceService/SystemSharedMemoryUnregister": "shared-memory",
  "/inference.GRPCInferenceService/CudaSharedMemoryStatus": "shared-memory",
  "/inference.GRPCInferenceService/CudaSharedMemoryRegister": "shared-memory",
  "/inference.GRPCInferenceService/CudaSharedMemoryUnregister": "shared-memory",
  "/inference.GRPCInferenceService/TraceSetting": "trace",
  "/inference.GRPCInferenceService/LogSettings": "logging",
};

/** The group of an RPC path; a method not in the table is judged like the state-changing ones. */
export function grpcApiGroup(path: string): ApiGroup {
  return GROUPS[path] ?? "model-repository";
}

/** Checks each call's metadata (bearer token, restricted APIs) before its handler runs. */
export function accessInterceptor(access: AccessControl): ServerInterceptor {
  return (method, call) =>
    new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, nextMetadata) => {
            try {
              access.check(grpcApiGroup(method.path), (name) => metadata.get(name));
            } catch (err) {
              const e = toTensorbindError(err);
              call.sendStatus({ code: e.status.grpc, details: e.message });
              return;
            }
            nextMetadata(metadata);
          },
        }),
    });
}
