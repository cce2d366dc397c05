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
 * // Two workers on each of two GPUs, each pinned to its GPU (Triton's instance_group):
 * bind({ name: "net", fn: python("model.py", "infer", { framework: "torch", instances: { count: 2, gpus: [0, 1] } }) });
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
      // The backend's module (zeromq) loads with the model, not with the package.
      return new LazyBackend(
        "python",
        opts.instances,
        async () => {
          const { PythonBackend } = await import("./python-backend.js");
          return new PythonBackend(opts);
        },
        opts.groups === undefined ? undefined : opts.gpus,
        opts.groups,
      );
    },
  };
}
