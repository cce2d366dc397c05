import { resolve } from "node:path";
import { execa } from "execa";
import { explainPythonFailure, PythonTraceback } from "../backends/python/diagnose.js";
import { python } from "../backends/python/index.js";
import { workerPythonPath } from "../backends/python/package-dir.js";
import type { DeclarationJson } from "../backends/python/protocol.js";
import { type BoundModel, bind } from "../bind.js";
import { ConfigError } from "../core/errors.js";
import type { Registry } from "../model/registry.js";

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
}

export interface PythonFileOptions {
  /** Python interpreter; default: env TENSORBIND_PYTHON, else `python3`. */
  interpreter?: string;
  /** How long importing the file may take. Default 60 s. */
  timeoutMs?: number;
  /** Registry to bind into; default: the one `serve()` serves. */
  registry?: Registry;
}

/** Imports `path` in the interpreter and lists its `@tensorbind.model` functions. */
export async function listPythonModels(
  path: string,
  options: Omit<PythonFileOptions, "registry"> = {},
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

/**
 * Binds every `@tensorbind.model` function of a Python file, each as `python(path, function)`
 * under the decorator's name; this is what `tensorbind serve model.py` does.
 *
 * @example
 * await bindPythonFile("model.py", { interpreter: ".venv/bin/python" });
 * await serve();
 */
export async function bindPythonFile(path: string, options: PythonFileOptions = {}): Promise<BoundModel[]> {
  const { registry, ...listOptions } = options;
  const models = await listPythonModels(path, listOptions);
  if (models.length === 0) {
    throw new ConfigError(`${path} declares no model: decorate a function with @tensorbind.model(...)`);
  }
  return models.map((m) =>
    bind(
      {
        name: m.name,
        fn: python(path, m.function, {
          ...(options.interpreter !== undefined && { interpreter: options.interpreter }),
          ...(m.instances !== undefined && { instances: m.instances }),
          ...(m.framework !== undefined && { framework: m.framework }),
          ...(m.device !== undefined && { device: m.device }),
        }),
      },
      registry,
    ),
  );
}
