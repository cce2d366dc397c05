import { BACKEND_FACTORY, type BackendFactory } from "../../core/backend.js";
import { ConfigError } from "../../core/errors.js";
import { PipelineBackend, type PipelineStep } from "./pipeline-backend.js";

export type { PipelineStep } from "./pipeline-backend.js";

/** One step of `pipeline()`: a model and how its inputs and outputs are named in the pipeline. */
export interface PipelineStepOptions {
  readonly model: string;
  /** A version; the latest when left out. */
  readonly version?: string | number;
  /** The step model's input name → the pipeline tensor that feeds it (a pipeline input or an earlier step's output). */
  readonly inputs: Readonly<Record<string, string>>;
  /** The step model's output name → the pipeline tensor it becomes. */
  readonly outputs: Readonly<Record<string, string>>;
}

/**
 * Chains models into one (Triton's ensemble): each step is a request to its model through the
 * server, so every step is validated, batched with that model's other requests and counted in
 * its statistics; independent steps run at once. The pipeline's outputs are the tensors its
 * `outputs` spec names.
 *
 * @example
 * bind({
 *   name: "detect",
 *   inputs: { IMAGE: tensor("UINT8", [-1]) },
 *   outputs: { BOXES: tensor("FP32", [-1, 4]) },
 *   fn: pipeline([
 *     { model: "preprocess", inputs: { RAW: "IMAGE" }, outputs: { PIXELS: "pixels" } },
 *     { model: "detector", inputs: { INPUT__0: "pixels" }, outputs: { OUTPUT__0: "BOXES" } },
 *   ]),
 * });
 */
export function pipeline(
  steps: readonly PipelineStepOptions[],
  options: { label?: string } = {},
): BackendFactory {
  if (!Array.isArray(steps) || steps.length === 0)
    throw new ConfigError("pipeline(): give at least one step");
  const resolved: PipelineStep[] = steps.map((s, i) => {
    if (typeof s?.model !== "string" || s.model === "")
      throw new ConfigError(`pipeline(): step ${i} needs a model name`);
    for (const key of ["inputs", "outputs"] as const) {
      const map = s[key];
      if (typeof map !== "object" || map === null || Object.values(map).some((v) => typeof v !== "string"))
        throw new ConfigError(
          `pipeline(): step ${i} (model '${s.model}'): ${key} must map names to tensor names`,
        );
    }
    return {
      model: s.model,
      ...(s.version !== undefined && { version: String(s.version) }),
      inputs: { ...s.inputs },
      outputs: { ...s.outputs },
    };
  });
  return {
    [BACKEND_FACTORY]: true,
    kind: "js",
    create: () => new PipelineBackend(resolved, options.label),
  };
}
