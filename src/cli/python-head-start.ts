import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { prewarmWorker } from "../backends/python/prewarm.js";
import { SERVE_FLAGS } from "./flags.js";

/**
 * Starts a Python worker's interpreter ahead of the model (backends/python/prewarm.ts) for the
 * arguments of `tensorbind serve`, when its modules look like they bind Python models. Called
 * first thing by bin/tensorbind.js, before the server's own modules load, so the interpreter
 * and NumPy start while they do. Its environment is the one serve will give the worker
 * (--python and --log-format set variables the worker inherits); a mistake in the arguments
 * is left to serve to report.
 */
export function startPythonHeadStart(serveArgs: readonly string[]): void {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(serveArgs);
  } catch {
    return;
  }
  const { values, positionals } = parsed;
  if (values.help === true || !bindsPythonModels(positionals)) return;
  const python = typeof values.python === "string" ? values.python : undefined;
  const format = values["log-format"];
  prewarmWorker(python ?? process.env.TENSORBIND_PYTHON ?? "python3", {
    ...(python !== undefined && { TENSORBIND_PYTHON: python }),
    ...((format === "json" || format === "pretty") && { TENSORBIND_LOG_FORMAT: format }),
  });
}

function parse(args: readonly string[]) {
  return parseArgs({ args: [...args], options: SERVE_FLAGS, allowPositionals: true, strict: true });
}

/** Whether the modules look like they bind Python models: a .py file, or a module that calls python(). */
function bindsPythonModels(files: readonly string[]): boolean {
  return files.some((file) => {
    if (file.endsWith(".py")) return true;
    try {
      return /\.[cm]?[jt]sx?$/.test(file) && /\bpython\s*\(/.test(readFileSync(file, "utf8"));
    } catch {
      return false; // serve reports a missing file
    }
  });
}
