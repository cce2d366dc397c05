import { describe, expect, it } from "vitest";
import type { ModelSpec } from "../../src/core/spec.js";
import { tensor } from "../../src/core/tensor-factory.js";
import { renderModelConfig } from "../../src/model/render-config.js";

const spec = (extra: Partial<ModelSpec>): ModelSpec => ({
  name: "m",
  version: "1",
  inputs: { X: tensor("FP32", [-1]) },
  outputs: { Y: tensor("FP32", [-1]) },
  maxBatchSize: 0,
  strict: true,
  platform: "tensorbind_native",
  instances: 1,
  ...extra,
});

describe("model config instance groups", () => {
  it("lists CPU instances as one KIND_CPU group", () => {
    expect(renderModelConfig(spec({ instances: 3 })).instance_group).toEqual([
      { name: "m_0", kind: "KIND_CPU", count: 3, gpus: [] },
    ]);
    expect(renderModelConfig(spec({ instances: 2, gpus: [-1, -1] })).instance_group).toEqual([
      { name: "m_0", kind: "KIND_CPU", count: 2, gpus: [] },
    ]);
  });

  it("lists GPU instances as one KIND_GPU group per device, like Triton", () => {
    expect(renderModelConfig(spec({ instances: 3, gpus: [0, 0, 1] })).instance_group).toEqual([
      { name: "m_0", kind: "KIND_GPU", count: 2, gpus: [0] },
      { name: "m_1", kind: "KIND_GPU", count: 1, gpus: [1] },
    ]);
  });
});
