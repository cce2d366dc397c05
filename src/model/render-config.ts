import { DATATYPES } from "../core/datatypes.js";
import { groupsOfPlacement } from "../core/instance-groups.js";
import type {
  ModelConfig,
  ModelConfigTensor,
  ModelDynamicBatching,
  ModelQueuePolicy,
} from "../core/model-config.js";
import type { QueuePolicy, SchedulingConfig } from "../core/scheduling.js";
import type { ModelSpec } from "../core/spec.js";

/** Renders a spec as Triton's model config. `dims` exclude the batch dimension, as in Triton. */
export function renderModelConfig(spec: ModelSpec): ModelConfig {
  const tensors = (specs: ModelSpec["inputs"], withOptional: boolean): ModelConfigTensor[] =>
    Object.entries(specs).map(([name, s]) => ({
      name,
      data_type: DATATYPES[s.datatype].configName,
      // Triton rewrites protobuf's int64-as-string JSON so that dims are plain numbers.
      dims: [...s.shape],
      // Protobuf JSON omits false booleans; Triton renders `optional` only when set.
      ...(withOptional && s.optional ? { optional: true } : {}),
    }));
  const rendered: ModelConfig = {
    name: spec.name,
    platform: spec.platform,
    backend: spec.platform,
    version_policy: { latest: { num_versions: 1 } },
    max_batch_size: spec.maxBatchSize,
    input: tensors(spec.inputs, true),
    output: tensors(spec.outputs, false),
    instance_group: instanceGroups(spec),
    // Shown when the model batches dynamically or has a queue policy, as Triton shows it when set.
    ...(spec.scheduling?.configured ? { dynamic_batching: renderDynamicBatching(spec.scheduling) } : {}),
    parameters: {},
  };
  // A repository model answers with its own config (Triton's fields as written), completed.
  return spec.modelConfig ? ({ ...rendered, ...spec.modelConfig, name: spec.name } as ModelConfig) : rendered;
}

/**
 * The instance groups as Triton shows them: as given (`{ kind: KIND_GPU, count: 2, gpus: [0, 1] }`,
 * count per listed GPU), else one group per device of the placement, else one CPU group.
 */
function instanceGroups(spec: ModelSpec): ModelConfig["instance_group"] {
  const gpus = spec.gpus;
  const groups =
    spec.instanceGroups ??
    (gpus === undefined || gpus.every((g) => g < 0)
      ? [{ kind: "KIND_CPU" as const, count: spec.instances, gpus: [] }]
      : groupsOfPlacement(gpus));
  return groups.map((g, i) => ({
    name: `${spec.name}_${i}`,
    kind: g.kind,
    count: g.count,
    gpus: [...g.gpus],
  }));
}

function renderDynamicBatching(s: SchedulingConfig): ModelDynamicBatching {
  return {
    preferred_batch_size: [...s.preferredBatchSizes],
    max_queue_delay_microseconds: s.maxQueueDelayUs,
    preserve_ordering: s.preserveOrdering,
    priority_levels: s.priorityLevels,
    default_priority_level: s.defaultPriorityLevel,
    default_queue_policy: renderPolicy(s.defaultQueuePolicy),
    priority_queue_policy: Object.fromEntries(
      [...s.priorityQueuePolicy].map(([level, p]) => [String(level), renderPolicy(p)]),
    ),
  };
}

function renderPolicy(p: QueuePolicy): ModelQueuePolicy {
  return {
    timeout_action: p.timeoutAction,
    default_timeout_microseconds: p.defaultTimeoutUs,
    allow_timeout_override: p.allowTimeoutOverride,
    max_queue_size: p.maxQueueSize,
  };
}
