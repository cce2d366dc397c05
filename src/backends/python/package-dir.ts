import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The python/ folder beside the server's code in a checkout or an npm install. */
const BUNDLED = fileURLToPath(new URL("../../../python", import.meta.url));

/**
 * What to put first on a worker's PYTHONPATH so that `import tensorbind` finds the Python half
 * that ships with this server: the python/ folder of a checkout or npm install. The pip wheel
 * ships the server without that folder (its Python code is the installed `tensorbind` package,
 * one copy only), so there is nothing to add and the interpreter's own `tensorbind` is used.
 */
export function bundledPythonPath(): string | undefined {
  return existsSync(BUNDLED) ? BUNDLED : undefined;
}

/** PYTHONPATH for a worker: the bundled package first, then what the caller had. */
export function workerPythonPath(inherited: string | undefined): string {
  return [bundledPythonPath(), inherited].filter((p): p is string => p !== undefined && p !== "").join(":");
}
