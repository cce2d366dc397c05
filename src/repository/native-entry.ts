import { existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { python } from "../backends/python/index.js";
import { listPythonModels } from "../backends/python/listing.js";
import { ConfigError } from "../core/errors.js";
import type { BindOptions } from "../model/model.js";
import { Registry } from "../model/registry.js";

/** The files that make a directory without config.pbtxt a tensorbind-native repository entry. */
export const NATIVE_FILES = ["model.ts", "model.mts", "model.js", "model.mjs", "model.py"] as const;

export function nativeFile(dir: string): string | undefined {
  for (const f of NATIVE_FILES) if (existsSync(join(dir, f))) return join(dir, f);
  return undefined;
}

// bind() finds the registry through this global (src/bind.ts), so a module calling it binds
// into whatever registry the global holds while the module is imported.
const DEFAULT_REGISTRY = Symbol.for("tensorbind.defaultRegistry");
let importing: Promise<unknown> = Promise.resolve();
let generation = 0;

/**
 * The bind() options of a tensorbind-native entry: `model.ts` / `model.js` (a module calling
 * `bind()`) or `model.py` (functions with `@tensorbind.model`). Every model it binds must be
 * named after the directory, as a Triton model is.
 */
export async function nativeDefinitions(
  name: string,
  file: string,
  interpreter: string | undefined,
): Promise<BindOptions[]> {
  const options = file.endsWith(".py") ? await pythonEntry(file, interpreter) : await moduleEntry(file);
  if (options.length === 0) throw new ConfigError(`${file} binds no model`);
  const stray = options.filter((o) => o.name !== name).map((o) => o.name);
  if (stray.length > 0)
    throw new ConfigError(
      `${file} binds ${stray.map((n) => `'${n}'`).join(", ")}: in a repository, name it '${name}' after its directory`,
    );
  return options;
}

async function pythonEntry(file: string, interpreter: string | undefined): Promise<BindOptions[]> {
  const models = await listPythonModels(file, interpreter === undefined ? {} : { interpreter });
  return models.map((m) => ({
    name: m.name,
    fn: python(file, m.function, {
      ...(interpreter !== undefined && { interpreter }),
      ...(m.instances !== undefined && { instances: m.instances }),
      ...(m.framework !== undefined && { framework: m.framework }),
      ...(m.device !== undefined && { device: m.device }),
    }),
  }));
}

/** Imports the module with a capturing registry in place of the default one (one import at a time). */
function moduleEntry(file: string): Promise<BindOptions[]> {
  const run = importing.then(async () => {
    const g = globalThis as unknown as Record<symbol, Registry | undefined>;
    const saved = g[DEFAULT_REGISTRY];
    const capture = new Registry();
    g[DEFAULT_REGISTRY] = capture;
    try {
      if (/\.m?ts$/.test(file)) {
        const { importTypeScript } = await import("./import-module.js");
        await importTypeScript(file);
      } else {
        // A new URL each time: a reload imports the changed file, not the cached module.
        await import(`${pathToFileURL(file).href}?load=${++generation}`);
      }
    } finally {
      g[DEFAULT_REGISTRY] = saved;
    }
    return capture.list().map((m) => m.options);
  });
  importing = run.catch(() => undefined);
  return run;
}
