import type { Logger } from "../core/logger.js";
import type { RequestEvent, RequestListener } from "../core/request-event.js";

const us = (ns: number) => Math.round(ns / 100) / 10;

/**
 * `n` random bytes as hex. Span ids only need to be unlikely to collide within a trace, and
 * Math.random keeps node:crypto off start-up and the request path.
 */
function randomHex(bytes: number): string {
  let s = "";
  for (let i = 0; i < bytes; i++) s += ((Math.random() * 256) | 0).toString(16).padStart(2, "0");
  // An all-zero span id is invalid in W3C trace context.
  return /^0+$/.test(s) ? randomHex(bytes) : s;
}

/**
 * A request listener that writes one structured log line per inference request: its ids (the
 * server's `rid`, the client's KServe `id`, the W3C trace id and the caller's span), the model,
 * the outcome and where the time went (total, queue, compute input/infer/output, in µs).
 * Each request gets a fresh server span id, so a log pipeline can attach the line to the trace.
 *
 * @example
 * const core = new Core(registry, { id: "tensorbind", onRequest: requestLogger(log) });
 * // {"level":30,"msg":"request","rid":"k3x9-1","model":"simple","version":"1","total_us":84.2,...}
 */
export function requestLogger(log: Logger): RequestListener {
  // A per-process prefix keeps generated ids unique across restarts and replicas' merged logs.
  const prefix = randomHex(3);
  let seq = 0;
  return (e: RequestEvent) => {
    const trace = e.request.trace;
    const line: Record<string, unknown> = {
      rid: trace?.requestId ?? `${prefix}-${(++seq).toString(36)}`,
      ...(e.request.id !== undefined && e.request.id !== "" ? { id: e.request.id } : {}),
      model: e.model,
      version: e.version,
      ...(trace?.traceId !== undefined
        ? { trace_id: trace.traceId, parent_id: trace.parentId, span_id: randomHex(8) }
        : {}),
      total_us: us(e.totalNs),
    };
    if (e.ok) {
      line.batch_size = e.batchSize;
      line.queue_us = us(e.queueNs);
      line.compute_input_us = us(e.timings.computeInputNs);
      line.compute_infer_us = us(e.timings.computeInferNs);
      line.compute_output_us = us(e.timings.computeOutputNs);
      log.info(line, "request");
    } else {
      line.code = e.error.code;
      line.reason = e.reason;
      line.error = e.error.message;
      log.info(line, "request failed");
    }
  };
}
