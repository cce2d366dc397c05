import type { IncomingMessage, ServerResponse } from "node:http";
import { InvalidArgumentError, MethodNotAllowedError } from "../../core/errors.js";
import type { InferenceCore } from "../../core/inference-core.js";
import { readBody } from "./body.js";
import { parseJson } from "./json-parse.js";
import { sendJson } from "./respond.js";

/**
 * The shared-memory extensions' HTTP endpoints (Triton's protocol):
 * GET  /v2/{system,cuda}sharedmemory[/region/{name}]/status
 * POST /v2/{system,cuda}sharedmemory/region/{name}/register
 * POST /v2/{system,cuda}sharedmemory[/region/{name}]/unregister
 */
export interface ShmRoute {
  readonly kind: "system" | "cuda";
  readonly region: string | undefined;
  readonly action: "status" | "register" | "unregister";
}

const ROUTE = /^\/v2\/(system|cuda)sharedmemory(?:\/region\/([^/]+))?\/(status|register|unregister)\/?$/;

export function matchShmRoute(path: string): ShmRoute | undefined {
  const m = ROUTE.exec(path);
  if (!m) return undefined;
  let region: string | undefined;
  if (m[2] !== undefined) {
    try {
      region = decodeURIComponent(m[2]);
    } catch {
      region = m[2];
    }
  }
  return { kind: m[1] as ShmRoute["kind"], region, action: m[3] as ShmRoute["action"] };
}

const MAX_REGISTER_BODY = 64 * 1024;

export async function handleShm(
  core: InferenceCore,
  req: IncomingMessage,
  res: ServerResponse,
  route: ShmRoute,
): Promise<void> {
  const shm = core.sharedMemory;
  const method = req.method === "HEAD" ? "GET" : req.method;
  const expected = route.action === "status" ? "GET" : "POST";
  if (method !== expected)
    throw new MethodNotAllowedError(`${req.method ?? "?"} is not allowed here; use ${expected}`);
  const { kind, region, action } = route;
  if (action === "status") {
    return sendJson(res, 200, kind === "system" ? shm.systemStatus(region) : shm.cudaStatus(region));
  }
  if (action === "unregister") {
    await readBody(req, MAX_REGISTER_BODY);
    if (kind === "system") shm.systemUnregister(region);
    else shm.cudaUnregister(region);
    return sendJson(res, 200, {});
  }
  if (region === undefined) throw new InvalidArgumentError("register needs a region name in the path");
  const body = await readBody(req, MAX_REGISTER_BODY);
  const parsed = parseJson(body.toString("utf8"));
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new InvalidArgumentError("a register request must be a JSON object");
  const b = parsed as Record<string, unknown>;
  if (kind === "system") {
    shm.systemRegister(region, b.key, b.offset ?? 0, b.byte_size);
  } else {
    const raw = b.raw_handle as { b64?: unknown } | undefined;
    if (typeof raw !== "object" || raw === null || typeof raw.b64 !== "string")
      throw new InvalidArgumentError("a CUDA register request needs raw_handle.b64");
    shm.cudaRegister(region, Buffer.from(raw.b64, "base64"), b.device_id, b.byte_size);
  }
  return sendJson(res, 200, {});
}
