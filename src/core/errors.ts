/**
 * One error hierarchy for the whole server. Every error carries a stable `code`; the status
 * table below is the only place that maps codes to HTTP and gRPC statuses. Frontends never
 * invent errors: they translate these.
 */

export type ErrorCode =
  | "TB_ERR_INVALID_ARG"
  | "TB_ERR_NOT_FOUND"
  | "TB_ERR_METHOD_NOT_ALLOWED"
  | "TB_ERR_UNAVAILABLE"
  | "TB_ERR_UNIMPLEMENTED"
  | "TB_ERR_INTERNAL"
  | "TB_ERR_CANCELLED"
  | "TB_ERR_DEADLINE_EXCEEDED"
  | "TB_ERR_RESOURCE_EXHAUSTED"
  | "TB_ERR_UNSUPPORTED_MEDIA"
  | "TB_ERR_UNAUTHENTICATED"
  | "TB_ERR_PERMISSION_DENIED"
  | "TB_ERR_SHM_EXHAUSTED"
  | "TB_ERR_CONFIG";

/** gRPC status codes (numeric values from grpc's status.proto), kept here so the table needs no grpc import. */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

export interface StatusMapping {
  readonly http: number;
  readonly grpc: number;
}

/** The status table shared by every frontend. */
export const STATUS_TABLE: Readonly<Record<ErrorCode, StatusMapping>> = Object.freeze({
  TB_ERR_INVALID_ARG: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT },
  TB_ERR_NOT_FOUND: { http: 404, grpc: GrpcStatus.NOT_FOUND },
  TB_ERR_METHOD_NOT_ALLOWED: { http: 405, grpc: GrpcStatus.UNIMPLEMENTED },
  TB_ERR_UNAVAILABLE: { http: 503, grpc: GrpcStatus.UNAVAILABLE },
  TB_ERR_UNIMPLEMENTED: { http: 501, grpc: GrpcStatus.UNIMPLEMENTED },
  TB_ERR_INTERNAL: { http: 500, grpc: GrpcStatus.INTERNAL },
  TB_ERR_CANCELLED: { http: 499, grpc: GrpcStatus.CANCELLED },
  TB_ERR_DEADLINE_EXCEEDED: { http: 504, grpc: GrpcStatus.DEADLINE_EXCEEDED },
  TB_ERR_RESOURCE_EXHAUSTED: { http: 413, grpc: GrpcStatus.RESOURCE_EXHAUSTED },
  TB_ERR_UNSUPPORTED_MEDIA: { http: 415, grpc: GrpcStatus.UNIMPLEMENTED },
  TB_ERR_UNAUTHENTICATED: { http: 401, grpc: GrpcStatus.UNAUTHENTICATED },
  // The request is fine; the server has no shared memory for it right now (a cap, a full tmpfs).
  TB_ERR_SHM_EXHAUSTED: { http: 503, grpc: GrpcStatus.RESOURCE_EXHAUSTED },
  TB_ERR_PERMISSION_DENIED: { http: 403, grpc: GrpcStatus.PERMISSION_DENIED },
  TB_ERR_CONFIG: { http: 500, grpc: GrpcStatus.INTERNAL },
});

// A global symbol brands our errors so `isTensorbindError` works across duplicate copies of the package.
const BRAND = Symbol.for("tensorbind.error");

/**
 * The base of every error tensorbind throws; `code` is stable, `status` its HTTP and gRPC status.
 * A model function may throw one of its subclasses to choose the status the client sees.
 *
 * @example
 * if (isTensorbindError(err)) console.error(err.code, err.status.http);
 */
export class TensorbindError extends Error {
  readonly code: ErrorCode;
  readonly [BRAND] = true;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }

  get status(): StatusMapping {
    return STATUS_TABLE[this.code];
  }
}

/**
 * Whether `err` is one of our errors, by brand rather than `instanceof`, which fails when two
 * copies of the package are loaded; with `code`, whether it is one of that code.
 *
 * @example
 * if (isTensorbindError(err, "TB_ERR_NOT_FOUND")) return undefined;
 */
export function isTensorbindError(err: unknown, code?: ErrorCode): err is TensorbindError {
  if (typeof err !== "object" || err === null || (err as { [BRAND]?: unknown })[BRAND] !== true) return false;
  return code === undefined || (err as TensorbindError).code === code;
}

/**
 * The client sent something wrong: HTTP 400, gRPC INVALID_ARGUMENT.
 *
 * @example
 * throw new InvalidArgumentError("X must be positive");
 */
export class InvalidArgumentError extends TensorbindError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("TB_ERR_INVALID_ARG", message, options);
  }
}
/**
 * Something named in the request does not exist: HTTP 404, gRPC NOT_FOUND.
 *
 * @example
 * throw new NotFoundError(`no such key: ${key}`);
 */
export class NotFoundError extends TensorbindError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("TB_ERR_NOT_FOUND", message, options);
  }
}
/**
 * A route called with the wrong method: HTTP 405, gRPC UNIMPLEMENTED.
 *
 * @example
 * throw new MethodNotAllowedError("use POST");
 */
export class MethodNotAllowedError extends TensorbindError {
  constructor(message: string) {
    super("TB_ERR_METHOD_NOT_ALLOWED", message);
  }
}
/**
 * Not able to serve now (overloaded, stopping): HTTP 503, gRPC UNAVAILABLE.
 *
 * @example
 * throw new UnavailableError("the cache is warming up");
 */
export class UnavailableError extends TensorbindError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("TB_ERR_UNAVAILABLE", message, options);
  }
}
/**
 * A feature not supported: HTTP 501, gRPC UNIMPLEMENTED.
 *
 * @example
 * throw new UnimplementedError("sequence batching is not supported");
 */
export class UnimplementedError extends TensorbindError {
  constructor(message: string) {
    super("TB_ERR_UNIMPLEMENTED", message);
  }
}
/**
 * A failure on the server side: HTTP 500, gRPC INTERNAL.
 *
 * @example
 * throw new InternalError("the device returned garbage", { cause: err });
 */
export class InternalError extends TensorbindError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("TB_ERR_INTERNAL", message, options);
  }
}
/**
 * The client went away: HTTP 499, gRPC CANCELLED.
 *
 * @example
 * if (ctx.signal?.aborted) throw new CancelledError();
 */
export class CancelledError extends TensorbindError {
  constructor(message = "request was cancelled") {
    super("TB_ERR_CANCELLED", message);
  }
}
/**
 * The request ran out of time: HTTP 504, gRPC DEADLINE_EXCEEDED.
 *
 * @example
 * throw new DeadlineExceededError("no answer from the device in 5 s");
 */
export class DeadlineExceededError extends TensorbindError {
  constructor(message = "request timed out") {
    super("TB_ERR_DEADLINE_EXCEEDED", message);
  }
}
/**
 * A limit was reached: HTTP 413, gRPC RESOURCE_EXHAUSTED.
 *
 * @example
 * throw new ResourceExhaustedError("batch above 1 GiB");
 */
export class ResourceExhaustedError extends TensorbindError {
  constructor(message: string) {
    super("TB_ERR_RESOURCE_EXHAUSTED", message);
  }
}
/** A body in an encoding or media type the server does not take (HTTP 415). */
export class UnsupportedMediaTypeError extends TensorbindError {
  constructor(message: string) {
    super("TB_ERR_UNSUPPORTED_MEDIA", message);
  }
}
/** No valid credentials (bearer token) came with the request (HTTP 401, gRPC UNAUTHENTICATED). */
export class UnauthenticatedError extends TensorbindError {
  constructor(message: string) {
    super("TB_ERR_UNAUTHENTICATED", message);
  }
}
/** The request may not use this API (a restricted API without its header: HTTP 403, gRPC PERMISSION_DENIED). */
export class PermissionDeniedError extends TensorbindError {
  constructor(message: string) {
    super("TB_ERR_PERMISSION_DENIED", message);
  }
}
/** No shared memory for this request now (a configured cap or a full /dev/shm); others go on. */
export class SharedMemoryExhaustedError extends TensorbindError {
  constructor(message: string) {
    super("TB_ERR_SHM_EXHAUSTED", message);
  }
}
/**
 * A mistake in how the server or a model was set up (reported at bind/serve time, not per request).
 *
 * @example
 * throw new ConfigError("TRACCC_GEOMETRY is not set");
 */
export class ConfigError extends TensorbindError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("TB_ERR_CONFIG", message, options);
  }
}

/**
 * Turns anything thrown into a TensorbindError. Errors from user code become INTERNAL with
 * their type and message (never a stack trace: that goes to the log).
 */
export function toTensorbindError(err: unknown): TensorbindError {
  if (isTensorbindError(err)) return err;
  if (err instanceof Error) return new InternalError(`${err.name}: ${err.message}`, { cause: err });
  return new InternalError(String(err));
}

/** Triton's wording for an unknown model; scripts match on it. */
export function unknownModelError(name: string, version?: string): NotFoundError {
  return version === undefined
    ? new NotFoundError(`Request for unknown model: '${name}' is not found`)
    : new NotFoundError(`Request for unknown model: '${name}' version ${version} is not found`);
}

/**
 * Whether an error is the server's own fault (a model that failed, a bad configuration), logged
 * as an error with its cause; bad input, overload, deadlines and cancellations are logged at
 * debug level by both frontends.
 */
export function isServerFault(e: TensorbindError): boolean {
  return e.code === "TB_ERR_INTERNAL" || e.code === "TB_ERR_CONFIG";
}
