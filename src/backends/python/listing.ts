import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { ConfigError } from "../../core/errors.js";
import { explainPythonFailure, PythonTraceback } from "./diagnose.js";
import { workerPythonPath } from "./package-dir.js";
import type { DeclarationJson } from "./protocol.js";

/** One `@tensorbind.model` function of a file, as `python -m tensorbind.worker --list` reports it. */
export interface PythonModelListing {
  /** The attribute the worker calls. */
  readonly function: string;
  /** The model name: the decorator's `name=`, else the function's. */
  readonly name: string;
  readonly declaration: DeclarationJson;
  readonly instances?: number;
  readonly framework?: "numpy" | "torch";
  readonly device?: string;
  /** With `instances`: that many workers on each listed GPU. */
  readonly gpus?: readonly number[];
}

export interface ListingOptions {
  /** Python interpreter; default: env TENSORBIND_PYTHON, else `python3`. */
  interpreter?: string;
  /** How long importing the file may take. Default 60 s. */
  timeoutMs?: number;
}

/** Imports `path` in the interpreter and lists its `@tensorbind.model` functions. */
export async function listPythonModels(
  path: string,
  options: ListingOptions = {},
): Promise<PythonModelListing[]> {
  const interpreter = options.interpreter ?? process.env.TENSORBIND_PYTHON ?? "python3";
  const timeout = options.timeoutMs ?? 60_000;
  const pythonPath = workerPythonPath(process.env.PYTHONPATH);
  const r = await run(
    interpreter,
    ["-m", "tensorbind.worker", "--list", resolve(path)],
    {
      ...process.env,
      PYTHONPATH: pythonPath,
    },
    timeout,
  );
  if (r.spawnError !== undefined) {
    throw new ConfigError(`cannot run interpreter '${interpreter}': ${r.spawnError}`);
  }
  if (r.timedOut) {
    throw new ConfigError(`importing ${path} with '${interpreter}' did not finish within ${timeout} ms`, {
      cause: new PythonTraceback(r.stderr),
    });
  }
  if (r.failed !== undefined) {
    const why = explainPythonFailure(r.stderr, interpreter) ?? `'${interpreter}' failed (${r.failed})`;
    throw new ConfigError(`${path}: ${why}`, { cause: new PythonTraceback(r.stderr) });
  }
  const models = (JSON.parse(r.stdout) as { models?: PythonModelListing[] }).models;
  if (!Array.isArray(models)) throw new ConfigError(`'${interpreter}' listed no models for ${path}`);
  return models;
}

interface RunResult {
  readonly stdout: string;
  readonly stderr: string;
  /** Why the process could not be started (e.g. ENOENT). */
  readonly spawnError?: string;
  readonly timedOut: boolean;
  /** How a process that ran failed: "exit code 1", "killed by SIGSEGV". */
  readonly failed?: string;
}

/** Runs a command to its end with output captured, never rejecting (node:child_process, no wrapper package). */
function run(
  file: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  timeout: number,
): Promise<RunResult> {
  return new Promise((resolveRun) => {
    const child = execFile(
      file,
      args,
      { env, timeout, killSignal: "SIGKILL", maxBuffer: 64 * 2 ** 20, encoding: "utf8" },
      (err, stdout, stderr) => {
        if (err === null) return resolveRun({ stdout, stderr, timedOut: false });
        if (child.pid === undefined)
          return resolveRun({ stdout, stderr, spawnError: err.message, timedOut: false });
        const e = err as typeof err & { killed?: boolean; signal?: string | null; code?: number | string };
        const failed = e.signal
          ? `killed by ${e.signal}`
          : typeof e.code === "number"
            ? `exit code ${e.code}`
            : err.message;
        resolveRun({ stdout, stderr, timedOut: e.killed === true && e.signal === "SIGKILL", failed });
      },
    );
    child.stdin?.end();
  });
}
