import { ConfigError } from "./errors.js";

/**
 * Where a model's instances run, in Triton's instance_group terms: `count` instances on each GPU
 * listed in `gpus` (KIND_GPU), or `count` instances on the CPU (KIND_CPU, `gpus` empty). Shared
 * by native() and python() options, config.pbtxt parsing and the rendered model config.
 */
export interface InstanceGroup {
  readonly kind: "KIND_CPU" | "KIND_GPU";
  readonly count: number;
  readonly gpus: readonly number[];
}

/**
 * The option form: `{ count: 2, gpus: [0, 1, 2, 3] }` is two instances on each of four GPUs
 * (eight in all); without `gpus`, `count` instances on the CPU. `count` defaults to 1.
 */
export interface InstanceGroupOptions {
  readonly count?: number;
  readonly gpus?: readonly number[];
}

/** Checks an `{ count, gpus }` option and returns it as an instance group. */
export function instanceGroupOf(o: InstanceGroupOptions, what: string): InstanceGroup {
  const count = o.count ?? 1;
  if (!Number.isSafeInteger(count) || count < 1)
    throw new ConfigError(`${what}: instances.count must be a positive integer`);
  if (o.gpus === undefined) return { kind: "KIND_CPU", count, gpus: [] };
  if (!Array.isArray(o.gpus) || o.gpus.length === 0)
    throw new ConfigError(`${what}: instances.gpus must be a non-empty list of CUDA device indices`);
  for (const g of o.gpus)
    if (!Number.isSafeInteger(g) || g < 0)
      throw new ConfigError(`${what}: instances.gpus holds ${String(g)}, not a CUDA device index`);
  if (new Set(o.gpus).size !== o.gpus.length)
    throw new ConfigError(`${what}: instances.gpus lists a GPU twice; raise count instead`);
  return { kind: "KIND_GPU", count, gpus: [...o.gpus] };
}

/**
 * The device of each instance (-1: CPU), in instance order. Within a group the GPUs take turns
 * (0, 1, 0, 1 for `{ count: 2, gpus: [0, 1] }`), so the first free instances are on different GPUs.
 */
export function placeInstances(groups: readonly InstanceGroup[]): number[] {
  const placement: number[] = [];
  for (const g of groups) {
    if (g.kind === "KIND_CPU") for (let i = 0; i < g.count; i++) placement.push(-1);
    else for (let i = 0; i < g.count; i++) placement.push(...g.gpus);
  }
  return placement;
}

/** Groups for a per-instance placement: one per device, in order of first appearance. */
export function groupsOfPlacement(placement: readonly number[]): InstanceGroup[] {
  const counts = new Map<number, number>();
  for (const g of placement) counts.set(g, (counts.get(g) ?? 0) + 1);
  return [...counts].map(([g, count]) =>
    g < 0 ? { kind: "KIND_CPU", count, gpus: [] } : { kind: "KIND_GPU", count, gpus: [g] },
  );
}
