import { Metadata, type ServerErrorResponse } from "@grpc/grpc-js";
import { isServerFault, type TensorbindError, toTensorbindError } from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";

/**
 * A thrown error → the gRPC status the call ends with, through the shared STATUS_TABLE
 * (TensorbindError.status). Server-side faults are logged; client mistakes only at debug.
 */
export function toServiceError(
  err: unknown,
  log: Logger,
  method: string,
): ServerErrorResponse & { tb: TensorbindError } {
  const e = logged(err, log, method);
  return Object.assign(new Error(e.message), {
    code: e.status.grpc,
    details: e.message,
    metadata: new Metadata(),
    tb: e,
  });
}

/** Converts and logs like toServiceError, for errors reported in-band (stream error_message). */
export function logged(err: unknown, log: Logger, method: string): TensorbindError {
  const e = toTensorbindError(err);
  if (isServerFault(e)) log.error({ err: e, cause: e.cause, method }, "gRPC call failed");
  else log.debug({ code: e.code, error: e.message, method }, "gRPC call rejected");
  return e;
}
