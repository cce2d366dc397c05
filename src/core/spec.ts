import { type Datatype, isDatatype } from "./datatypes.js";
import { ConfigError } from "./errors.js";
import type { InstanceGroup } from "./instance-groups.js";
import type { SchedulingConfig } from "./scheduling.js";

/** One input or output of a model. `shape` excludes the batch dimension when the model batches; -1 is "any". */
export interface TensorSpec<D extends Datatype = Datatype, Optional extends boolean = boolean> {
  readonly datatype: D;
  readonly shape: readonly number[];
  readonly optional: Optional;
}

export interface TensorSpecOptions {
  /** An optional input may be left out of a request (Triton's `optional: true`). */
  optional?: boolean;
}

/**
 * Declares an input or output.
 *
 * @example
 * inputs: { INPUT0: tensor("INT32", [16]), MASK: tensor("BOOL", [-1], { optional: true }) }
 */
export function tensorSpec<D extends Datatype>(
  datatype: D,
  shape: readonly number[],
  options?: TensorSpecOptions & { optional?: false },
): TensorSpec<D, false>;
export function tensorSpec<D extends Datatype>(
  datatype: D,
  shape: readonly number[],
  options: TensorSpecOptions & { optional: true },
): TensorSpec<D, true>;
export function tensorSpec<D extends Datatype>(
  datatype: D,
  shape: readonly number[],
  options?: TensorSpecOptions,
): TensorSpec<D>;
export function tensorSpec(
  datatype: Datatype,
  shape: readonly number[],
  options: TensorSpecOptions = {},
): TensorSpec {
  if (!isDatatype(datatype)) throw new ConfigError(`unknown datatype '${String(datatype)}'`);
  if (!Array.isArray(shape)) throw new ConfigError("a tensor shape must be an array of integers");
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < -1)
      throw new ConfigError(`invalid dimension ${String(d)} in shape [${shape.join(",")}]`);
  }
  return Object.freeze({ datatype, shape: Object.freeze([...shape]), optional: options.optional ?? false });
}

export type TensorSpecs = Readonly<Record<string, TensorSpec>>;

/** Everything about a model that the protocol exposes, resolved and validated. */
export interface ModelSpec {
  readonly name: string;
  readonly version: string;
  readonly inputs: TensorSpecs;
  readonly outputs: TensorSpecs;
  /** 0 disables batching: request shapes then equal spec shapes exactly. */
  readonly maxBatchSize: number;
  /** Check outputs against their specs before answering. */
  readonly strict: boolean;
  /** What the model config calls the platform/backend (e.g. "tensorbind_js"). */
  readonly platform: string;
  readonly instances: number;
  /** Batching, priorities and queue policies (absent: plain FIFO without batching). */
  readonly scheduling?: SchedulingConfig;
  /** The CUDA device of each instance (-1: CPU), when the backend says (Triton's instance groups). */
  readonly gpus?: readonly number[];
  /** The instance groups as given (`{ count, gpus }`); else derived from `gpus`. */
  readonly instanceGroups?: readonly InstanceGroup[];
  /** Triton model-config fields to show as given (a repository model's config.pbtxt). */
  readonly modelConfig?: Readonly<Record<string, unknown>>;
}

const NAME_RE = /^[A-Za-z0-9._-]+$/;

export function validateModelName(name: unknown): string {
  if (typeof name !== "string" || !NAME_RE.test(name) || name === "." || name === "..") {
    throw new ConfigError(`invalid model name '${String(name)}': use letters, digits, '.', '_' and '-' only`);
  }
  return name;
}

export function validateVersion(version: unknown): string {
  const v = typeof version === "number" ? String(version) : version;
  if (typeof v !== "string" || !/^[1-9][0-9]{0,17}$/.test(v)) {
    throw new ConfigError(`invalid model version '${String(version)}': use a positive integer`);
  }
  return v;
}

export function validateTensorSpecs(kind: "input" | "output", specs: unknown): TensorSpecs {
  if (typeof specs !== "object" || specs === null || Array.isArray(specs)) {
    throw new ConfigError(`${kind}s must be an object of tensor specs`);
  }
  const entries = Object.entries(specs as Record<string, unknown>);
  if (entries.length === 0) throw new ConfigError(`a model needs at least one ${kind}`);
  const out: Record<string, TensorSpec> = {};
  for (const [name, spec] of entries) {
    if (!NAME_RE.test(name)) throw new ConfigError(`invalid ${kind} name '${name}'`);
    const s = spec as Partial<TensorSpec> | undefined;
    if (!s || !isDatatype(s.datatype) || !Array.isArray(s.shape)) {
      throw new ConfigError(`${kind} '${name}' must be a tensor spec, e.g. tensor("FP32", [-1])`);
    }
    out[name] = tensorSpec(s.datatype, s.shape, { optional: s.optional ?? false });
    if (kind === "output" && s.optional) throw new ConfigError(`output '${name}' cannot be optional`);
  }
  return Object.freeze(out);
}
