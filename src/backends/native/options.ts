import { existsSync } from "node:fs";
import { ConfigError } from "../../core/errors.js";
import {
  type InstanceGroup,
  type InstanceGroupOptions,
  instanceGroupOf,
  placeInstances,
} from "../../core/instance-groups.js";

/** Where one instance runs. */
export interface NativeInstanceOptions {
  /** CUDA device index; omitted: a CPU instance. */
  gpu?: number;
}

/** Options of `native(addonPath, functionName, options)`. */
export interface NativeOptions {
  /**
   * How many instances (each a worker thread running one call at a time); or, as Triton's
   * instance_group, `{ count: 2, gpus: [0, 1, 2, 3] }`: `count` instances on each listed GPU;
   * or one entry per instance saying where it runs: `[{ gpu: 0 }, { gpu: 1 }]`. Default 1.
   */
  instances?: number | InstanceGroupOptions | readonly NativeInstanceOptions[];
  /** The GPU of every instance given by count (`{ instances: 4, gpu: 0 }`: four on GPU 0). */
  gpu?: number;
}

export interface ResolvedNativeOptions {
  readonly addonPath: string;
  readonly functionName: string;
  /** Per instance: the CUDA device, or -1 for the CPU. */
  readonly gpus: readonly number[];
  /** The `{ count, gpus }` form as given, for the model config. */
  readonly groups?: readonly InstanceGroup[];
}

function checkGpu(gpu: unknown, what: string): number {
  if (gpu === undefined) return -1;
  if (!Number.isSafeInteger(gpu) || (gpu as number) < 0)
    throw new ConfigError(`native(): ${what} must be a non-negative integer (a CUDA device index)`);
  return gpu as number;
}

export function resolveNativeOptions(
  addonPath: string,
  functionName: string,
  o: NativeOptions,
): ResolvedNativeOptions {
  if (typeof addonPath !== "string" || addonPath === "")
    throw new ConfigError("native(): addonPath must be the path of a .node file");
  if (typeof functionName !== "string" || functionName === "")
    throw new ConfigError("native(): functionName must name a model function of the addon");
  if (!existsSync(addonPath)) {
    throw new ConfigError(`native(): addon ${addonPath} does not exist; build it first (cmake-js compile)`);
  }
  const instances = o.instances ?? 1;
  let gpus: number[];
  if (typeof instances === "number") {
    if (!Number.isSafeInteger(instances) || instances < 1)
      throw new ConfigError("native(): instances must be a positive integer or an array");
    const gpu = checkGpu(o.gpu, "gpu");
    gpus = Array.from({ length: instances }, () => gpu);
  } else if (Array.isArray(instances) && instances.length > 0) {
    if (o.gpu !== undefined) throw new ConfigError("native(): give gpu per instance or for all, not both");
    gpus = instances.map((inst, i) => checkGpu(inst?.gpu, `instances[${i}].gpu`));
  } else if (typeof instances === "object" && instances !== null && !Array.isArray(instances)) {
    if (o.gpu !== undefined) throw new ConfigError("native(): give instances.gpus or gpu, not both");
    const groups = [instanceGroupOf(instances as InstanceGroupOptions, "native()")];
    return { addonPath, functionName, gpus: placeInstances(groups), groups };
  } else {
    throw new ConfigError(
      "native(): instances must be a positive integer, { count, gpus } or a non-empty array",
    );
  }
  return { addonPath, functionName, gpus };
}
