import { DATATYPES, type Datatype } from "../core/datatypes.js";
import { ConfigError } from "../core/errors.js";
import type { BatchingOptions, QueueOptions, QueuePolicyOptions } from "../core/scheduling.js";
import { type TensorSpec, tensorSpec } from "../core/spec.js";
import type { JsonObject } from "./pbtxt.js";

/**
 * A repository model's config.pbtxt, read into what bind() takes. The config stays in its
 * protobuf JSON form (what Triton serves at /config and hands `initialize` as `model_config`);
 * these helpers read the fields tensorbind acts on.
 */

/** The runners a repository model can name. */
export type RepositoryBackend = "python" | "pytorch" | "onnx" | "ensemble";

const DEFAULT_FILES: Record<Exclude<RepositoryBackend, "ensemble">, string> = {
  python: "model.py",
  pytorch: "model.pt",
  onnx: "model.onnx",
};

export function defaultModelFile(backend: RepositoryBackend, config: JsonObject): string | undefined {
  if (backend === "ensemble") return undefined;
  const given = config.default_model_filename;
  return typeof given === "string" && given !== "" ? given : DEFAULT_FILES[backend];
}

/** Which runner serves the config (platform and backend as Triton spells them); throws for the rest. */
export function backendOf(
  config: JsonObject,
  file: string,
  hasFile: (name: string) => boolean,
): RepositoryBackend {
  const platform = str(config.platform);
  const backend = str(config.backend);
  if (platform === "ensemble") return "ensemble";
  if (backend === "python") return "python";
  if (platform === "pytorch_libtorch" || backend === "pytorch") return "pytorch";
  if (platform === "onnxruntime_onnx" || backend === "onnxruntime") return "onnx";
  if (platform === "" && backend === "") {
    // Triton guesses from the files when neither is given.
    for (const [kind, name] of Object.entries(DEFAULT_FILES))
      if (hasFile(name)) return kind as RepositoryBackend;
  }
  const named = [platform && `platform '${platform}'`, backend && `backend '${backend}'`]
    .filter(Boolean)
    .join(" / ");
  throw new ConfigError(
    `${file}: ${named || "no platform or backend"} is not supported by tensorbind ` +
      "(supported: backend 'python', platform 'pytorch_libtorch', 'onnxruntime_onnx', 'ensemble')",
  );
}

/** Fills what Triton fills: the name, platform/backend spelled both ways, the version policy. */
export function completeConfig(
  config: JsonObject,
  name: string,
  backend: RepositoryBackend,
  file: string,
): JsonObject {
  if (config.name !== undefined && config.name !== name)
    throw new ConfigError(
      `${file}: name '${String(config.name)}' does not match the model directory '${name}'`,
    );
  const filled: JsonObject = { ...config, name };
  if (backend === "pytorch") Object.assign(filled, { platform: "pytorch_libtorch", backend: "pytorch" });
  if (backend === "onnx") Object.assign(filled, { platform: "onnxruntime_onnx", backend: "onnxruntime" });
  if (backend === "python") Object.assign(filled, { platform: "", backend: "python" });
  filled.version_policy ??= { latest: { num_versions: 1 } };
  return filled;
}

const BY_CONFIG_NAME = new Map<string, Datatype>(
  Object.entries(DATATYPES).map(([dt, info]) => [info.configName, dt as Datatype]),
);

/** The `input` or `output` list as tensor specs (dims as clients see them). */
export function tensorSpecsOf(
  config: JsonObject,
  kind: "input" | "output",
  file: string,
): Record<string, TensorSpec> | undefined {
  const list = config[kind];
  if (!Array.isArray(list) || list.length === 0) return undefined;
  const out: Record<string, TensorSpec> = {};
  for (const entry of list as JsonObject[]) {
    const name = str(entry.name);
    const datatype = BY_CONFIG_NAME.get(str(entry.data_type) || "TYPE_INVALID");
    if (!datatype)
      throw new ConfigError(`${file}: ${kind} '${name}' has data_type ${String(entry.data_type)}`);
    const dims = (entry.dims as number[] | undefined) ?? [];
    const reshape = (entry.reshape as JsonObject | undefined)?.shape as number[] | undefined;
    if (reshape !== undefined && product(reshape) !== product(dims) && !dims.includes(-1))
      throw new ConfigError(`${file}: ${kind} '${name}': reshape [${reshape}] does not hold dims [${dims}]`);
    try {
      out[name] = tensorSpec(datatype, dims, { optional: kind === "input" && entry.optional === true });
    } catch (err) {
      throw new ConfigError(`${file}: ${kind} '${name}': ${(err as Error).message}`);
    }
  }
  return out;
}

/**
 * The CUDA device of each instance (-1: CPU). KIND_GPU groups place `count` instances on each
 * listed GPU (GPU 0 when none is listed); KIND_CPU, KIND_MODEL and KIND_AUTO run on the CPU.
 */
export function instancePlacement(config: JsonObject): number[] {
  const groups = (config.instance_group as JsonObject[] | undefined) ?? [];
  if (groups.length === 0) return [-1];
  const placement: number[] = [];
  for (const g of groups) {
    const count = typeof g.count === "number" && g.count > 0 ? g.count : 1;
    if (g.kind === "KIND_GPU") {
      const gpus = (g.gpus as number[] | undefined)?.length ? (g.gpus as number[]) : [0];
      for (const gpu of gpus) for (let i = 0; i < count; i++) placement.push(gpu);
    } else for (let i = 0; i < count; i++) placement.push(-1);
  }
  return placement;
}

/** Triton's dynamic_batching block as bind()'s `batching` and `queue`. */
export function schedulingOf(config: JsonObject): { batching?: BatchingOptions; queue?: QueueOptions } {
  const db = config.dynamic_batching as JsonObject | undefined;
  if (db === undefined) return {};
  const batching: BatchingOptions = {
    maxQueueDelayUs: num(db.max_queue_delay_microseconds),
    preferredBatchSizes: (db.preferred_batch_size as number[] | undefined) ?? [],
    preserveOrdering: db.preserve_ordering === true,
  };
  const policy = (p: JsonObject | undefined): QueuePolicyOptions =>
    p === undefined
      ? {}
      : {
          maxSize: num(p.max_queue_size),
          timeoutUs: num(p.default_timeout_microseconds),
          timeoutAction: p.timeout_action === "DELAY" ? "delay" : "reject",
          allowTimeoutOverride: p.allow_timeout_override === true,
        };
  const levels = num(db.priority_levels);
  const priorities = Object.fromEntries(
    Object.entries((db.priority_queue_policy as Record<string, JsonObject> | undefined) ?? {}).map(
      ([k, v]) => [Number(k), policy(v)],
    ),
  );
  const queue: QueueOptions = {
    ...policy(db.default_queue_policy as JsonObject | undefined),
    ...(levels > 0 && { priorityLevels: levels, priorities }),
    ...(levels > 0 &&
      num(db.default_priority_level) > 0 && { defaultPriorityLevel: num(db.default_priority_level) }),
  };
  return { batching, queue };
}

/** A string parameter (`parameters { key: … value: { string_value: … } }`). */
export function parameterOf(config: JsonObject, key: string): string | undefined {
  const p = (config.parameters as Record<string, JsonObject> | undefined)?.[key];
  return p === undefined ? undefined : str(p.string_value);
}

export function isDecoupled(config: JsonObject): boolean {
  return (config.model_transaction_policy as JsonObject | undefined)?.decoupled === true;
}

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}
function num(v: unknown): number {
  return typeof v === "number" ? v : 0;
}
function product(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}
