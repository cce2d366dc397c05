export type { InstanceGroup, InstanceGroupOptions } from "./instance-groups.js";

/** Triton's model configuration in its JSON form (protobuf field names), as perf_analyzer reads it. */
export interface ModelConfig {
  name: string;
  platform: string;
  backend: string;
  version_policy: { latest: { num_versions: number } };
  max_batch_size: number;
  input: ModelConfigTensor[];
  output: ModelConfigTensor[];
  instance_group: { name: string; kind: string; count: number; gpus: number[] }[];
  dynamic_batching?: ModelDynamicBatching;
  parameters: Record<string, { string_value: string }>;
}

export interface ModelConfigTensor {
  name: string;
  data_type: string;
  dims: number[];
  optional?: boolean;
}

/** Triton's ModelQueuePolicy. */
export interface ModelQueuePolicy {
  timeout_action: "REJECT" | "DELAY";
  default_timeout_microseconds: number;
  allow_timeout_override: boolean;
  max_queue_size: number;
}

/** Triton's ModelDynamicBatching (priority_queue_policy is keyed by level, as protobuf JSON maps are). */
export interface ModelDynamicBatching {
  preferred_batch_size: number[];
  max_queue_delay_microseconds: number;
  preserve_ordering: boolean;
  priority_levels: number;
  default_priority_level: number;
  default_queue_policy: ModelQueuePolicy;
  priority_queue_policy: Record<string, ModelQueuePolicy>;
}
