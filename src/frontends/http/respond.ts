import type { ServerResponse } from "node:http";
import { type TensorbindError, toTensorbindError } from "../../core/errors.js";

const JSON_TYPE = "application/json";

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  sendJsonText(res, status, JSON.stringify(body));
}

export function sendJsonText(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent || res.destroyed) return;
  const buf = Buffer.from(text, "utf8");
  res.writeHead(status, { "Content-Type": JSON_TYPE, "Content-Length": buf.length });
  res.end(buf);
}

/** Errors are always `{"error": "..."}` with exactly `application/json`: the KServe client parses no other type. */
export function sendError(
  res: ServerResponse,
  err: unknown,
  extraHeaders: Record<string, string> = {},
): TensorbindError {
  const e = toTensorbindError(err);
  if (res.headersSent || res.destroyed) return e;
  const buf = Buffer.from(JSON.stringify({ error: e.message }), "utf8");
  res.writeHead(e.status.http, { "Content-Type": JSON_TYPE, "Content-Length": buf.length, ...extraHeaders });
  res.end(buf);
  return e;
}
