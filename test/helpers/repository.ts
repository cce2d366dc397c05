import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll } from "vitest";
import type { ServeOptions } from "../../src/config.js";
import { Registry } from "../../src/model/registry.js";
import { type Server, serve } from "../../src/server.js";
import { INTERPRETER, ROOT } from "./cli.js";

const run = promisify(execFile);

/** Writes a model repository (relative path → content) into a new temp dir and returns the dir. */
export function writeRepository(files: Record<string, string | Uint8Array>, dir?: string): string {
  const root = dir ?? mkdtempSync(join(tmpdir(), "tb-repo-"));
  for (const [rel, content] of Object.entries(files)) {
    const path = join(root, rel);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
  }
  return root;
}

/**
 * Runs a Python script with the project's interpreter (tritonclient, numpy, torch, onnx) and
 * returns what it printed as JSON on its last line. `env` adds variables (URLs for the client).
 */
export async function runPython<T = unknown>(
  script: string,
  env: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<T> {
  // A file rather than -c: torch.jit.script reads the source of what it compiles.
  const dir = mkdtempSync(join(tmpdir(), "tb-py-"));
  const file = join(dir, "script.py");
  writeFileSync(file, script);
  try {
    const { stdout } = await run(INTERPRETER, [file], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
    });
    const lines = stdout.trim().split("\n");
    return JSON.parse(lines[lines.length - 1] ?? "null") as T;
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`python script failed: ${e.message}\n${e.stdout ?? ""}\n${e.stderr ?? ""}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A Triton Python-backend model.py that applies `body` (code of `execute`'s loop over requests). */
export const PB_HEADER = `import json
import numpy as np
import triton_python_backend_utils as pb_utils
`;

/**
 * A server of the repository (or repositories) on a free HTTP port, a fresh registry, no gRPC,
 * metrics or dashboard, silent; `extra` changes any of that.
 */
export function serveRepository(repo: string | string[], extra: ServeOptions = {}): Promise<Server> {
  return serve({
    http: 0,
    grpc: false,
    metrics: false,
    dashboard: false,
    logLevel: "silent",
    registry: new Registry(),
    modelRepository: repo,
    ...extra,
  });
}

/**
 * A repository of `files`, written and served for the enclosing describe block (beforeAll), closed
 * and removed after it. Read `server` and `repo` inside the tests.
 * Example: const served = servedRepository(FILES, { metrics: 0 }); … served.server.urls.http
 */
export function servedRepository(
  files: Record<string, string | Uint8Array>,
  extra: ServeOptions = {},
  timeoutMs = 120_000,
): { readonly server: Server; readonly repo: string } {
  let repo: string | undefined;
  let server: Server | undefined;
  beforeAll(async () => {
    repo = writeRepository(files);
    server = await serveRepository(repo, extra);
  }, timeoutMs);
  afterAll(async () => {
    await server?.close();
    if (repo !== undefined) rmSync(repo, { recursive: true, force: true });
  });
  return {
    get server() {
      return server!;
    },
    get repo() {
      return repo!;
    },
  };
}
