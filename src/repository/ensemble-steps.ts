import type { PipelineStep } from "../backends/pipeline/pipeline-backend.js";
import { ConfigError } from "../core/errors.js";

/** Triton's ensemble_scheduling block as pipeline steps. */
export function stepsOf(config: Record<string, unknown>, file: string): PipelineStep[] {
  const scheduling = config.ensemble_scheduling as { step?: Record<string, unknown>[] } | undefined;
  const steps = scheduling?.step ?? [];
  if (steps.length === 0)
    throw new ConfigError(`${file}: an ensemble needs ensemble_scheduling { step [ … ] }`);
  return steps.map((s, i) => {
    const model = s.model_name;
    if (typeof model !== "string" || model === "")
      throw new ConfigError(`${file}: ensemble step ${i} has no model_name`);
    const version =
      typeof s.model_version === "number" && s.model_version > 0 ? String(s.model_version) : undefined;
    return {
      model,
      ...(version !== undefined && { version }),
      inputs: (s.input_map as Record<string, string> | undefined) ?? {},
      outputs: (s.output_map as Record<string, string> | undefined) ?? {},
    };
  });
}
