import type {
  ServerUnaryCall,
  ServiceDefinition,
  sendUnaryData,
  UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { toTensorbindError, UnimplementedError } from "../../core/errors.js";
import type { InferenceCore, ModelLoadOverrides } from "../../core/inference-core.js";
import type { Logger } from "../../core/logger.js";
import { traceFields } from "../../core/trace-context.js";
import { callTrace, inferOne, opt, releaseResponse } from "./infer.js";
import type {
  ModelInferRequestMsg,
  ModelRefMsg,
  RepositoryIndexRequestMsg,
  RepositoryModelRequestMsg,
} from "./messages.js";
import { sharedMemoryHandlers } from "./shm.js";
import { toServiceError } from "./status.js";
import { type StreamRegistry, streamInferHandler } from "./stream.js";

const SHARED_MEMORY_RPCS = [
  "SystemSharedMemoryStatus",
  "SystemSharedMemoryRegister",
  "SystemSharedMemoryUnregister",
  "CudaSharedMemoryStatus",
  "CudaSharedMemoryRegister",
  "CudaSharedMemoryUnregister",
];

/** RPCs answered by the core; every other method of the service answers UNIMPLEMENTED. */
const IMPLEMENTED = new Set([
  "ServerLive",
  "ServerReady",
  "ModelReady",
  "ServerMetadata",
  "ModelMetadata",
  "ModelInfer",
  "ModelStreamInfer",
  "ModelConfig",
  "ModelStatistics",
  "RepositoryIndex",
  ...SHARED_MEMORY_RPCS,
  "RepositoryModelLoad",
  "RepositoryModelUnload",
]);

type Unary<Req> = (request: Req) => unknown;

/**
 * The inference.GRPCInferenceService handlers. Like the HTTP routes, each only translates a
 * message into an InferenceCore call and its result (or error) back into a message.
 */
export function inferenceService(
  core: InferenceCore,
  definition: ServiceDefinition,
  log: Logger,
  streams: StreamRegistry,
): UntypedServiceImplementation {
  const unary =
    <Req>(method: string, fn: Unary<Req>) =>
    (call: ServerUnaryCall<Req, unknown>, callback: sendUnaryData<unknown>) => {
      try {
        callback(null, fn(call.request));
      } catch (err) {
        callback(toServiceError(err, log, method));
      }
    };

  const asyncUnary =
    <Req>(method: string, fn: (request: Req) => Promise<unknown>) =>
    (call: ServerUnaryCall<Req, unknown>, callback: sendUnaryData<unknown>) => {
      fn(call.request).then(
        (reply) => callback(null, reply),
        (err: unknown) => callback(toServiceError(err, log, method)),
      );
    };

  const handlers: UntypedServiceImplementation = {
    ServerLive: unary("ServerLive", () => ({ live: core.isLive() })),
    ServerReady: unary("ServerReady", () => ({ ready: core.isReady() })),
    ModelReady: unary<ModelRefMsg>("ModelReady", (r) => {
      // Triton answers ready=false, not an error, for a model it does not know; clients rely on it.
      try {
        return { ready: core.isModelReady(r.name, opt(r.version)) };
      } catch (err) {
        if (toTensorbindError(err).code === "TB_ERR_NOT_FOUND") return { ready: false };
        throw err;
      }
    }),
    ServerMetadata: unary("ServerMetadata", () => core.serverMetadata()),
    ModelMetadata: unary<ModelRefMsg>("ModelMetadata", (r) => core.modelMetadata(r.name, opt(r.version))),
    ModelConfig: unary<ModelRefMsg>("ModelConfig", (r) => ({
      config: core.modelConfig(r.name, opt(r.version)),
    })),
    ModelStatistics: unary<ModelRefMsg>("ModelStatistics", (r) => ({
      model_stats: core.modelStatistics(opt(r.name), opt(r.version)),
    })),
    RepositoryIndex: unary<RepositoryIndexRequestMsg>("RepositoryIndex", (r) => ({
      models: core.repositoryIndex(r.ready),
    })),
    RepositoryModelLoad: asyncUnary<RepositoryModelRequestMsg>("RepositoryModelLoad", async (r) => {
      await core.loadModel(r.model_name, loadOverrides(r));
      return {};
    }),
    RepositoryModelUnload: asyncUnary<RepositoryModelRequestMsg>("RepositoryModelUnload", async (r) => {
      const dependents = r.parameters?.unload_dependents;
      await core.unloadModel(r.model_name, {
        unloadDependents: dependents?.parameter_choice === "bool_param" && dependents.bool_param === true,
      });
      return {};
    }),
    ModelInfer: (call: ServerUnaryCall<ModelInferRequestMsg, unknown>, callback: sendUnaryData<unknown>) => {
      // The client cancelling (or its deadline passing) aborts the request: a queued one never runs.
      const abort = new AbortController();
      const onCancel = () => abort.abort();
      call.once("cancelled", onCancel);
      const trace = callTrace(call.metadata);
      inferOne(core, call.request, abort.signal, call.getDeadline(), trace).then(
        (response) => {
          call.off("cancelled", onCancel);
          callback(null, response);
          releaseResponse(response); // serialized by now: the output slots can go back
        },
        (err: unknown) => {
          call.off("cancelled", onCancel);
          // A failure's log line carries the caller's trace, when it sent one.
          callback(toServiceError(err, trace ? log.child(traceFields(trace)) : log, "ModelInfer"));
        },
      );
    },
    ModelStreamInfer: streamInferHandler(core, log, streams),
    ...sharedMemoryHandlers(core, log),
  };

  for (const method of Object.keys(definition)) {
    if (IMPLEMENTED.has(method)) continue;
    handlers[method] = unary(method, () => {
      throw new UnimplementedError(`${method} is not supported by tensorbind yet`);
    });
  }
  return handlers;
}

/** Triton's load parameters: `config` (a JSON string) and `file:<path>` (bytes). */
function loadOverrides(r: RepositoryModelRequestMsg): ModelLoadOverrides {
  const files: Record<string, Uint8Array> = {};
  let config: string | undefined;
  for (const [key, p] of Object.entries(r.parameters ?? {})) {
    if (key === "config" && p.parameter_choice === "string_param") config = p.string_param;
    else if (key.startsWith("file:") && p.parameter_choice === "bytes_param")
      files[key.slice("file:".length)] = p.bytes_param;
  }
  return { ...(config !== undefined && { config }), ...(Object.keys(files).length > 0 && { files }) };
}
