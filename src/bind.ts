import type { OutputsOf } from "./backends/js/function-types.js";
import type { TensorSpecs } from "./core/spec.js";
import type { BindOptions, Model } from "./model/model.js";
import { Registry } from "./model/registry.js";

// One process-wide registry, found through a global symbol so that a model module and the
// CLI share it even when they load different copies of the package.
const KEY = Symbol.for("tensorbind.defaultRegistry");

/**
 * The registry that `bind()` fills and `serve()` serves unless given another.
 *
 * @example
 * const names = defaultRegistry().list().map((m) => m.name);
 */
export function defaultRegistry(): Registry {
  const g = globalThis as unknown as Record<symbol, Registry | undefined>;
  g[KEY] ??= new Registry();
  return g[KEY];
}

/** A bound model version. */
export interface BoundModel {
  readonly name: string;
  readonly version: string;
  /** Removes this version, draining its requests first. */
  unbind(): Promise<void>;
}

/**
 * Binds a function as a model. Before `serve()` it is loaded with the server; after, at once.
 *
 * @example
 * bind({
 *   name: "add_sub",
 *   inputs: { A: tensor("FP32", [4]), B: tensor("FP32", [4]) },
 *   outputs: { SUM: tensor("FP32", [4]) },
 *   fn: ({ A, B }) => ({ SUM: A.data.map((a, i) => a + B.data[i]!) }), // A.data: Float32Array
 * });
 */
export function bind<I extends TensorSpecs, O extends TensorSpecs, R = OutputsOf<O>>(
  options: BindOptions<I, O, R>,
  registry: Registry = defaultRegistry(),
): BoundModel {
  const model: Model = registry.bind(options as unknown as BindOptions);
  return {
    name: model.name,
    version: model.version,
    unbind: () => registry.unbind(model.name, model.version),
  };
}

/**
 * Removes a model (every version unless one is given), draining its requests first.
 *
 * @example
 * await unbind("doubler");      // every version
 * await unbind("doubler", "2"); // one version
 */
export function unbind(
  name: string,
  version?: string | number,
  registry: Registry = defaultRegistry(),
): Promise<void> {
  return registry.unbind(name, version);
}
