import { resolve } from "node:path";
import { execa } from "execa";
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
  const r = await execa(interpreter, ["-m", "tensorbind.worker", "--list", resolve(path)], {
    env: { PYTHONPATH: pythonPath },
    stdin: "ignore",
    reject: false,
    timeout,
  });
  if (r.exitCode === undefined && r.signal === undefined && !r.timedOut) {
    throw new ConfigError(`cannot run interpreter '${interpreter}': ${r.originalMessage ?? r.shortMessage}`);
  }
  if (r.timedOut) {
    throw new ConfigError(`importing ${path} with '${interpreter}' did not finish within ${timeout} ms`, {
      cause: new PythonTraceback(r.stderr),
    });
  }
  if (r.failed) {
    const why = explainPythonFailure(r.stderr, interpreter) ?? `'${interpreter}' failed (${r.shortMessage})`;
    throw new ConfigError(`${path}: ${why}`, { cause: new PythonTraceback(r.stderr) });
  }
  const models = (JSON.parse(r.stdout) as { models?: PythonModelListing[] }).models;
  if (!Array.isArray(models)) throw new ConfigError(`'${interpreter}' listed no models for ${path}`);
  return models;
}
