import { BACKEND_FACTORY, type BackendFactory } from "../../core/backend.js";
import { ConfigError } from "../../core/errors.js";
import { LazyBackend } from "../lazy.js";
import { type PythonOptions, resolvePythonOptions } from "./options.js";

export type { PythonOptions } from "./options.js";

/**
 * Serves a Python function from a pool of worker processes. Inputs reach the function as
 * read-only NumPy views of shared memory (torch tensors with `framework: "torch"`); outputs are
 * written once into shared memory and answered from there.
 *
 * @example
 * bind({ name: "mlp", fn: python("examples/python-numpy/model.py", "infer", { instances: 2 }) });
 */
export function python(
  modulePath: string,
  functionName = "infer",
  options: PythonOptions = {},
): BackendFactory {
  const resolved = resolvePythonOptions(modulePath, functionName, options);
  return {
    [BACKEND_FACTORY]: true,
    kind: "python",
    create: ({ instances } = {}) => {
      if (instances !== undefined && options.instances !== undefined && options.instances !== instances)
        throw new ConfigError("instances is given to both bind() and python(); give it once");
      const opts =
        instances === undefined
          ? resolved
          : resolvePythonOptions(modulePath, functionName, { ...options, instances });
      // The backend's module (zeromq, apache-arrow, execa) loads with the model, not with the package.
      return new LazyBackend(
        "python",
        opts.instances,
        async () => {
          const { PythonBackend } = await import("./python-backend.js");
          return new PythonBackend(opts);
        },
        instanceGpus(opts.device, opts.instances),
      );
    },
  };
}

/** Every worker of a `cuda:N` model runs on GPU N (the model config's instance_group). */
function instanceGpus(device: string, instances: number): number[] | undefined {
  const gpu = /^cuda(?::(\d+))?$/.exec(device);
  return gpu ? Array.from({ length: instances }, () => Number(gpu[1] ?? 0)) : undefined;
}
