import type { IncomingMessage } from "node:http";
import { InvalidArgumentError } from "../../core/errors.js";
import type { InferenceCore, ModelLoadOverrides } from "../../core/inference-core.js";
import { readBody } from "./body.js";

/** The bodies of /v2/repository/*: small JSON, as Triton takes them. */
const MAX_REPOSITORY_BODY = 64 * 1024 * 1024;

async function jsonBody(req: IncomingMessage, maxBytes: number): Promise<Record<string, unknown>> {
  const body = await readBody(req, maxBytes);
  if (body.length === 0) return {};
  try {
    const parsed: unknown = JSON.parse(body.toString("utf8"));
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch {}
  throw new InvalidArgumentError("the request body must be a JSON object");
}

function parametersOf(body: Record<string, unknown>): Record<string, unknown> {
  const p = body.parameters ?? {};
  if (typeof p !== "object" || p === null || Array.isArray(p))
    throw new InvalidArgumentError("'parameters' must be a JSON object");
  return p as Record<string, unknown>;
}

/** POST /v2/repository/index, body { "ready": bool }. */
export async function repositoryIndex(core: InferenceCore, req: IncomingMessage): Promise<unknown> {
  const body = await jsonBody(req, 64 * 1024);
  if (body.ready !== undefined && typeof body.ready !== "boolean")
    throw new InvalidArgumentError("'ready' must be true or false");
  return core.repositoryIndex(body.ready === true);
}

/**
 * POST /v2/repository/models/NAME/load, body { "parameters": { "config": "<json>",
 * "file:<path>": "<base64>" } }.
 */
export async function repositoryLoad(
  core: InferenceCore,
  req: IncomingMessage,
  model: string,
): Promise<void> {
  const params = parametersOf(await jsonBody(req, MAX_REPOSITORY_BODY));
  const files: Record<string, Uint8Array> = {};
  let config: string | undefined;
  for (const [key, value] of Object.entries(params)) {
    if (key === "config") {
      if (typeof value !== "string") throw new InvalidArgumentError("'config' must be a JSON string");
      config = value;
    } else if (key.startsWith("file:")) {
      if (typeof value !== "string") throw new InvalidArgumentError(`'${key}' must be base64 content`);
      files[key.slice("file:".length)] = Buffer.from(value, "base64");
    }
  }
  const overrides: ModelLoadOverrides = {
    ...(config !== undefined && { config }),
    ...(Object.keys(files).length > 0 && { files }),
  };
  await core.loadModel(model, overrides);
}

/** POST /v2/repository/models/NAME/unload, body { "parameters": { "unload_dependents": bool } }. */
export async function repositoryUnload(
  core: InferenceCore,
  req: IncomingMessage,
  model: string,
): Promise<void> {
  const params = parametersOf(await jsonBody(req, 64 * 1024));
  const dependents = params.unload_dependents;
  if (dependents !== undefined && typeof dependents !== "boolean")
    throw new InvalidArgumentError("'unload_dependents' must be true or false");
  await core.unloadModel(model, { unloadDependents: dependents === true });
}
