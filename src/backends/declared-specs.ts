import type { Datatype } from "../core/datatypes.js";
import { ConfigError } from "../core/errors.js";
import { type TensorSpecs, tensorSpec } from "../core/spec.js";

/** A tensor as a Python or native model declares it, before it is checked. */
export interface DeclaredTensor {
  readonly datatype: string;
  readonly shape: readonly number[];
  readonly optional?: boolean | undefined;
}

/**
 * Checks the specs a model declares (Python's `@tensorbind.model`, a native addon's
 * declaration); a bad one is a ConfigError naming the model, e.g. "python model 'mlp'".
 */
export function declaredSpecs(
  model: string,
  kind: "input" | "output",
  declared: Readonly<Record<string, DeclaredTensor>> | undefined,
): TensorSpecs | undefined {
  if (declared === undefined) return undefined;
  const out: Record<string, ReturnType<typeof tensorSpec>> = {};
  for (const [name, d] of Object.entries(declared)) {
    try {
      out[name] = tensorSpec(d.datatype as Datatype, d.shape, { optional: d.optional ?? false });
    } catch (err) {
      throw new ConfigError(`${model} declares a bad ${kind} '${name}': ${(err as Error).message}`);
    }
  }
  return out;
}
