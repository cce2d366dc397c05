/**
 * W3C Trace Context (`traceparent`) and request ids, as a frontend receives them. tensorbind
 * does not export spans; it accepts a caller's trace context so that its log lines can be
 * joined with the caller's trace (the trace id is echoed in every request log line).
 */

/** What a request carries for tracing and log correlation; every field is optional. */
export interface RequestTrace {
  /** 32 lowercase hex digits, from a valid `traceparent`. */
  readonly traceId?: string;
  /** The caller's span id (16 lowercase hex digits), from `traceparent`. */
  readonly parentId?: string;
  /** The `sampled` flag of `traceparent`. */
  readonly sampled?: boolean;
  /** A caller-chosen id for log correlation (the `x-request-id` header that proxies such as Envoy set). */
  readonly requestId?: string;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = "0".repeat(32);
const ZERO_SPAN = "0".repeat(16);
/** Printable ASCII without spaces or quotes, bounded: ids end up in log lines. */
const REQUEST_ID = /^[\x21\x23-\x7e]{1,128}$/;

/**
 * Parses a `traceparent` header value; `undefined` when it is missing or invalid (the W3C rule:
 * an invalid header is ignored, never an error).
 *
 * @example
 * parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
 * // { traceId: "4bf92f35…", parentId: "00f067aa0ba902b7", sampled: true }
 */
export function parseTraceparent(
  value: string | undefined,
): { traceId: string; parentId: string; sampled: boolean } | undefined {
  if (value === undefined || value.length < 55 || value.length > 512) return undefined;
  const m = TRACEPARENT.exec(value.trim());
  if (!m) return undefined;
  const [, version, traceId, parentId, flags, rest] = m as unknown as [
    string,
    string,
    string,
    string,
    string,
    string?,
  ];
  // Version ff is forbidden; version 00 has exactly four fields; later versions may add fields.
  if (version === "ff" || (version === "00" && rest !== undefined)) return undefined;
  if (traceId === ZERO_TRACE || parentId === ZERO_SPAN) return undefined;
  return { traceId, parentId, sampled: (Number.parseInt(flags, 16) & 1) === 1 };
}

/**
 * The trace context of a request from its `traceparent` and `x-request-id` headers (HTTP
 * headers or gRPC metadata); `undefined` when it has neither.
 */
export function requestTrace(
  traceparent: string | undefined,
  requestId: string | undefined,
): RequestTrace | undefined {
  const parent = parseTraceparent(traceparent);
  const rid = requestId !== undefined && REQUEST_ID.test(requestId) ? requestId : undefined;
  if (parent === undefined && rid === undefined) return undefined;
  return { ...parent, ...(rid !== undefined ? { requestId: rid } : {}) };
}

/** A header or metadata entry as node:http or grpc-js gives it; it may repeat. */
type HeaderValue = string | string[] | Buffer | (string | Buffer)[] | undefined;

/**
 * The trace context of a request from its headers (HTTP) or metadata (gRPC), read through
 * `get`; the first value counts when one repeats.
 *
 * @example
 * traceOf((name) => req.headers[name]);            // node:http
 * traceOf((name) => call.metadata.get(name));      // grpc-js
 */
export function traceOf(get: (name: string) => HeaderValue): RequestTrace | undefined {
  return requestTrace(firstHeader(get("traceparent")), firstHeader(get("x-request-id")));
}

function firstHeader(v: HeaderValue): string | undefined {
  const first = Array.isArray(v) ? v[0] : v;
  return first === undefined ? undefined : typeof first === "string" ? first : undefined;
}

/** The fields a log line carries for a request's trace context (none without one). */
export function traceFields(trace: RequestTrace | undefined): Record<string, string> {
  if (trace === undefined) return {};
  const out: Record<string, string> = {};
  if (trace.requestId !== undefined) out.rid = trace.requestId;
  if (trace.traceId !== undefined) out.trace_id = trace.traceId;
  if (trace.parentId !== undefined) out.parent_id = trace.parentId;
  return out;
}
