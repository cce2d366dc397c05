import type { ServerUnaryCall, sendUnaryData } from "@grpc/grpc-js";
import type { InferenceCore } from "../../core/inference-core.js";
import type { Logger } from "../../core/logger.js";
import { opt } from "./infer.js";
import { toServiceError } from "./status.js";

interface NameMsg {
  name: string;
}
interface SystemRegisterMsg extends NameMsg {
  key: string;
  offset: string;
  byte_size: string;
}
interface CudaRegisterMsg extends NameMsg {
  raw_handle: Buffer;
  device_id: string;
  byte_size: string;
}

type Handler = (call: ServerUnaryCall<never, unknown>, callback: sendUnaryData<unknown>) => void;

/**
 * The shared-memory RPCs of GRPCInferenceService: translation to the core's shared-memory calls
 * only (the restricted-API check of the `shared-memory` group runs before, in access.ts).
 */
export function sharedMemoryHandlers(core: InferenceCore, log: Logger): Record<string, Handler> {
  const shm = core.sharedMemory;
  const unary =
    <Req>(method: string, fn: (r: Req) => unknown): Handler =>
    (call, callback) => {
      try {
        callback(null, fn(call.request as Req));
      } catch (err) {
        callback(toServiceError(err, log, method));
      }
    };
  // Status answers are maps keyed by region name, as in Triton's proto.
  const byName = <T extends { name: string }>(list: T[]) => ({
    regions: Object.fromEntries(list.map((r) => [r.name, r])),
  });
  return {
    SystemSharedMemoryStatus: unary<NameMsg>("SystemSharedMemoryStatus", (r) =>
      byName(shm.systemStatus(opt(r.name))),
    ),
    SystemSharedMemoryRegister: unary<SystemRegisterMsg>("SystemSharedMemoryRegister", (r) => {
      shm.systemRegister(r.name, r.key, r.offset, r.byte_size);
      return {};
    }),
    SystemSharedMemoryUnregister: unary<NameMsg>("SystemSharedMemoryUnregister", (r) => {
      shm.systemUnregister(opt(r.name));
      return {};
    }),
    CudaSharedMemoryStatus: unary<NameMsg>("CudaSharedMemoryStatus", (r) =>
      byName(shm.cudaStatus(opt(r.name))),
    ),
    CudaSharedMemoryRegister: unary<CudaRegisterMsg>("CudaSharedMemoryRegister", (r) => {
      shm.cudaRegister(r.name, r.raw_handle, r.device_id, r.byte_size);
      return {};
    }),
    CudaSharedMemoryUnregister: unary<NameMsg>("CudaSharedMemoryUnregister", (r) => {
      shm.cudaUnregister(opt(r.name));
      return {};
    }),
  };
}
