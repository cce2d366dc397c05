import { python } from "../backends/python/index.js";
import { type ListingOptions, listPythonModels } from "../backends/python/listing.js";
import { type BoundModel, bind } from "../bind.js";
import { ConfigError } from "../core/errors.js";
import type { Registry } from "../model/registry.js";

export { listPythonModels, type PythonModelListing } from "../backends/python/listing.js";

export interface PythonFileOptions extends ListingOptions {
  /** Registry to bind into; default: the one `serve()` serves. */
  registry?: Registry;
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
          ...(m.gpus !== undefined
            ? { instances: { count: m.instances ?? 1, gpus: m.gpus } }
            : m.instances !== undefined && { instances: m.instances }),
          ...(m.framework !== undefined && { framework: m.framework }),
          ...(m.device !== undefined && { device: m.device }),
        }),
      },
      registry,
    ),
  );
}
