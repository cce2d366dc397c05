import { existsSync } from "node:fs";
import { ConfigError } from "../../core/errors.js";
import {
  groupsOfPlacement,
  type InstanceGroup,
  type InstanceGroupOptions,
  instanceGroupOf,
  placeInstances,
} from "../../core/instance-groups.js";

/** Options of `python(modulePath, functionName, options)`. */
export interface PythonOptions {
  /**
   * Worker processes (one batch at a time each); or, as Triton's instance_group,
   * `{ count: 2, gpus: [0, 1] }`: `count` workers pinned to each listed GPU (each sees only its
   * GPU, as `cuda:0`, through CUDA_VISIBLE_DEVICES). Default 1.
   */
  instances?: number | InstanceGroupOptions;
  /** Python interpreter; default: env TENSORBIND_PYTHON, else `python3`. */
  interpreter?: string;
  /** How inputs reach the function: NumPy arrays (default) or torch tensors (through DLPack-free zero-copy views). */
  framework?: "numpy" | "torch";
  /**
   * With framework 'torch': the device inputs are moved to ("cuda:0"); outputs come back to the
   * CPU. `cuda:N` pins every worker to GPU N; with `instances.gpus`, "cuda" (the default) is each
   * worker's own GPU.
   */
  device?: string;
  /** How long a worker may take to import the module and say hello. Default 60 s (torch imports are slow). */
  startupTimeoutMs?: number;
  /** How long stop() waits after SIGTERM before SIGKILL. Default 5 s. */
  stopGraceMs?: number;
  /** Extra environment for the workers (added to the server's). */
  env?: Record<string, string>;
  /**
   * Cap, in bytes, on each shared-memory arena of this model: the input arena its workers share
   * and each worker's output arena. A request that does not fit gets 503 / RESOURCE_EXHAUSTED.
   * Default: none (the server-wide `shmLimit` still applies).
   */
  shmLimit?: number;
}

export interface ResolvedPythonOptions {
  readonly modulePath: string;
  readonly functionName: string;
  readonly instances: number;
  readonly interpreter: string;
  readonly framework: "numpy" | "torch";
  /** The device the worker is told to use ("cpu", or "cuda:0": its one visible GPU when pinned). */
  readonly device: string;
  /** Per worker: the GPU it is pinned to (CUDA_VISIBLE_DEVICES), or -1. */
  readonly gpus: readonly number[];
  /** The instance groups, for the model config; undefined for CPU workers. */
  readonly groups: readonly InstanceGroup[] | undefined;
  readonly startupTimeoutMs: number;
  readonly stopGraceMs: number;
  readonly env: Readonly<Record<string, string>>;
  readonly shmLimitBytes: number;
}

export function resolvePythonOptions(
  modulePath: string,
  functionName: string,
  o: PythonOptions,
): ResolvedPythonOptions {
  if (typeof modulePath !== "string" || modulePath === "")
    throw new ConfigError("python(): modulePath must be a path");
  if (typeof functionName !== "string" || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(functionName)) {
    throw new ConfigError(`python(): '${String(functionName)}' is not a Python function name`);
  }
  if ((modulePath.endsWith(".py") || modulePath.includes("/")) && !existsSync(modulePath)) {
    throw new ConfigError(`python(): module file ${modulePath} does not exist`);
  }
  const framework = o.framework ?? "numpy";
  if (framework !== "numpy" && framework !== "torch")
    throw new ConfigError(`python(): unknown framework '${String(framework)}'`);
  const { instances, device, gpus, groups } = placement(o, framework);
  const shmLimit = o.shmLimit ?? Number.POSITIVE_INFINITY;
  if (!(shmLimit > 0)) throw new ConfigError("python(): shmLimit must be a positive number of bytes");
  return {
    modulePath,
    functionName,
    instances,
    interpreter: o.interpreter ?? process.env.TENSORBIND_PYTHON ?? "python3",
    framework,
    device,
    gpus,
    groups,
    startupTimeoutMs: o.startupTimeoutMs ?? 60_000,
    stopGraceMs: o.stopGraceMs ?? 5_000,
    env: o.env ?? {},
    shmLimitBytes: shmLimit,
  };
}

/** Where the workers run: how many, pinned to which GPU, and the device each is told to use. */
function placement(
  o: PythonOptions,
  framework: "numpy" | "torch",
): { instances: number; device: string; gpus: number[]; groups: InstanceGroup[] | undefined } {
  const given = o.instances ?? 1;
  const cuda = o.device === undefined ? undefined : /^cuda(?::(\d+))?$/.exec(o.device);
  if (o.device !== undefined && o.device !== "cpu" && cuda === null)
    throw new ConfigError(`python(): device '${o.device}' is not cpu, cuda or cuda:N`);
  if (o.device !== undefined && o.device !== "cpu" && framework !== "torch")
    throw new ConfigError("python(): device needs framework: 'torch'");
  if (typeof given === "object" && given !== null) {
    const group = instanceGroupOf(given, "python()");
    if (group.kind === "KIND_CPU")
      return {
        instances: group.count,
        device: "cpu",
        gpus: placeInstances([group]).map(() => -1),
        groups: undefined,
      };
    if (cuda?.[1] !== undefined)
      throw new ConfigError("python(): give the GPUs in instances.gpus or in device, not both");
    const onGpu = framework === "torch" && o.device !== "cpu";
    return {
      instances: group.count * group.gpus.length,
      device: onGpu ? "cuda:0" : "cpu",
      gpus: placeInstances([group]),
      groups: [group],
    };
  }
  if (!Number.isInteger(given) || given < 1)
    throw new ConfigError("python(): instances must be a positive integer or { count, gpus }");
  if (!cuda)
    return {
      instances: given,
      device: "cpu",
      gpus: Array.from({ length: given }, () => -1),
      groups: undefined,
    };
  const gpu = Number(cuda[1] ?? 0);
  const gpus = Array.from({ length: given }, () => gpu);
  return { instances: given, device: "cuda:0", gpus, groups: groupsOfPlacement(gpus) };
}
