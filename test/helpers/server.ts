import { request as httpRequest } from "node:http";
import { bind } from "../../src/bind.js";
import type { ServeOptions } from "../../src/config.js";
import { silentLogger } from "../../src/core/logger.js";
import type { BindOptions } from "../../src/model/model.js";
import { Registry } from "../../src/model/registry.js";
import { type Server, serve } from "../../src/server.js";

/** Starts a server on free ports over a fresh registry holding `models`. */
export async function startServer(
  models: BindOptions[],
  options: ServeOptions = {},
): Promise<Server & { registry: Registry }> {
  const registry = new Registry();
  for (const m of models) bind(m, registry);
  const server = await serve({
    http: 0,
    grpc: false,
    metrics: false,
    // One event loop whatever the machine's cores (workers: "auto"): tests of frontend threads ask for them.
    workers: 1,
    logger: silentLogger,
    registry,
    ...options,
  });
  return Object.assign(server, { registry });
}

/**
 * Waits until `count` requests of `model` are executing — not a fixed sleep, which a busy
 * machine outlasts before the requests even arrive (the server may then rightly close their
 * connections as idle).
 */
export async function waitExecuting(
  server: { registry: Registry },
  model: string,
  count: number,
  timeoutMs = 10_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (server.registry.get(model).scheduler.executing < count) {
    if (Date.now() > end)
      throw new Error(`${model}: ${count} executions did not start within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** POSTs a JSON infer request and returns status and parsed body. */
export async function inferJson(
  base: string,
  model: string,
  body: unknown,
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}/v2/models/${model}/infer`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

/** Builds a binary-extension request body: JSON header followed by the tensors' bytes. */
export function binaryBody(header: unknown, buffers: Uint8Array[]): { body: Buffer; headerLength: number } {
  const head = Buffer.from(JSON.stringify(header));
  return {
    body: Buffer.concat([head, ...buffers.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength))]),
    headerLength: head.length,
  };
}

/** Splits a binary-extension response into its JSON header and the bytes of each binary output. */
export function parseBinaryResponse(
  buf: Buffer,
  headerLength: number,
): { header: any; outputs: Record<string, Buffer> } {
  const header = JSON.parse(buf.subarray(0, headerLength).toString("utf8"));
  const outputs: Record<string, Buffer> = {};
  let offset = headerLength;
  for (const o of header.outputs) {
    const size = o.parameters?.binary_data_size;
    if (size !== undefined) {
      outputs[o.name] = buf.subarray(offset, offset + size);
      offset += size;
    }
  }
  return { header, outputs };
}

/**
 * POST of a JSON text on a connection of its own (no keep-alive agent): with frontend threads the
 * kernel spreads such requests over the threads.
 */
export function postAlone(url: string, text: string): Promise<{ status: number; text: string }> {
  const data = Buffer.from(text);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method: "POST",
        agent: false,
        headers: { "Content-Type": "application/json", "Content-Length": data.length },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode!, text: Buffer.concat(chunks).toString() }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(data);
  });
}

/** n bytes of a pattern that differs per seed (so a byte in the wrong place shows). */
export function bytePattern(n: number, seed = 1): Uint8Array {
  const x = new Uint8Array(n);
  for (let i = 0; i < n; i++) x[i] = (i * 31 + seed) & 0xff;
  return x;
}

/**
 * UINT8 bytes through an identity-like model over HTTP with the binary extension: the status,
 * the named output's bytes (on 200) and the response's Connection header.
 */
export async function inferBytes(
  url: string,
  model: string,
  x: Uint8Array,
  io: { input: string; output: string; shape: number[] },
): Promise<{ status: number; output: Buffer | undefined; connection: string | null }> {
  const header = {
    inputs: [
      { name: io.input, datatype: "UINT8", shape: io.shape, parameters: { binary_data_size: x.length } },
    ],
    outputs: [{ name: io.output, parameters: { binary_data: true } }],
  };
  const { body, headerLength } = binaryBody(header, [x]);
  const res = await fetch(`${url}/v2/models/${model}/infer`, {
    method: "POST",
    headers: { "Inference-Header-Content-Length": String(headerLength) },
    body,
  });
  const buf = Buffer.from(await res.arrayBuffer());
  const length = Number(res.headers.get("inference-header-content-length"));
  const output = res.status === 200 ? parseBinaryResponse(buf, length).outputs[io.output] : undefined;
  return { status: res.status, output, connection: res.headers.get("connection") };
}
