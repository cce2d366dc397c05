#!/usr/bin/env node
// Compiles the bytecode of the Python half (python/tensorbind/**/__pycache__) for the interpreters
// the workers are likely to use: TENSORBIND_PYTHON, the checkout's .venv, python3. Without it a
// worker compiles the package's ~25 files on every start (~100 ms, performance target P5)
// wherever Python may not write bytecode itself: PYTHONDONTWRITEBYTECODE, a read-only install.
// Run by npm's install hook and by `npm run build`. Best effort: no Python, no bytecode, no failure.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const venv = join(root, ".venv/bin/python");
const interpreters = new Set(
  [process.env.TENSORBIND_PYTHON, existsSync(venv) ? venv : undefined, "python3"].filter(Boolean),
);
for (const python of interpreters) {
  spawnSync(python, ["-m", "compileall", "-q", join(root, "python/tensorbind")], {
    stdio: "ignore",
    timeout: 60_000,
  });
}
