import { describe, expect, it } from "vitest";
import { native } from "../../src/backends/native/index.js";
import type { Backend, ExecutionRequest, ExecutionResult } from "../../src/core/backend.js";
import { instanceGroupOf, placeInstances } from "../../src/core/instance-groups.js";
import type { ModelSpec } from "../../src/core/spec.js";
import { tensor } from "../../src/core/tensor-factory.js";
import { renderModelConfig } from "../../src/model/render-config.js";
import { InstancePool } from "../../src/scheduler/instance-pool.js";
import { Scheduler } from "../../src/scheduler/scheduler.js";

const VECTOR_OPS = "examples/native-cpu/build/Release/vector_ops.node";

describe("instances: { count, gpus } (Triton's instance_group)", () => {
  it("places count instances on each listed GPU, the GPUs taking turns", () => {
    const group = instanceGroupOf({ count: 2, gpus: [0, 1, 2, 3] }, "m");
    expect(group).toEqual({ kind: "KIND_GPU", count: 2, gpus: [0, 1, 2, 3] });
    expect(placeInstances([group])).toEqual([0, 1, 2, 3, 0, 1, 2, 3]);
    expect(placeInstances([instanceGroupOf({ count: 3 }, "m")])).toEqual([-1, -1, -1]);
  });

  it("refuses a bad count or GPU list with a clear message", () => {
    expect(() => instanceGroupOf({ count: 0, gpus: [0] }, "m")).toThrow(/count must be a positive integer/);
    expect(() => instanceGroupOf({ gpus: [] }, "m")).toThrow(/non-empty list/);
    expect(() => instanceGroupOf({ gpus: [-1] }, "m")).toThrow(/not a CUDA device index/);
    expect(() => instanceGroupOf({ gpus: [1, 1] }, "m")).toThrow(/twice/);
  });

  it("native() takes the group form, places its instances and shows the group as given", () => {
    const backend = native(VECTOR_OPS, "vector_add", { instances: { count: 2, gpus: [0, 1] } }).create();
    expect(backend.instances).toBe(4);
    expect(backend.gpus).toEqual([0, 1, 0, 1]);
    expect(backend.instanceGroups).toEqual([{ kind: "KIND_GPU", count: 2, gpus: [0, 1] }]);
    expect(() => native(VECTOR_OPS, "vector_add", { instances: { gpus: [0] }, gpu: 0 })).toThrow(/not both/);
  });

  it("renders KIND_GPU with count per GPU and the GPU list, as Triton shows instance_group", () => {
    const spec: ModelSpec = {
      name: "m",
      version: "1",
      inputs: { X: tensor("FP32", [-1]) },
      outputs: { Y: tensor("FP32", [-1]) },
      maxBatchSize: 0,
      strict: true,
      platform: "tensorbind_native",
      instances: 8,
      gpus: placeInstances([{ kind: "KIND_GPU", count: 2, gpus: [0, 1, 2, 3] }]),
      instanceGroups: [{ kind: "KIND_GPU", count: 2, gpus: [0, 1, 2, 3] }],
    };
    expect(renderModelConfig(spec).instance_group).toEqual([
      { name: "m_0", kind: "KIND_GPU", count: 2, gpus: [0, 1, 2, 3] },
    ]);
  });
});

describe("dispatch over GPUs", () => {
  it("takes the next instance from the GPU with the fewest busy ones", () => {
    const pool = new InstancePool(4, [0, 0, 1, 1]); // as an explicit per-instance list may place them
    const a = pool.take();
    const b = pool.take();
    expect([a, b]).toEqual([0, 2]); // one on each GPU, not both on GPU 0
    pool.give(a);
    expect(pool.take()).toBe(1); // GPU 0 is idle again: its other instance
    expect(pool.take()).toBe(3);
    expect(pool.freeCount).toBe(1);
  });

  it("keeps plain FIFO order when every instance is on one device", () => {
    const pool = new InstancePool(3, [-1, -1, -1]);
    expect([pool.take(), pool.take()]).toEqual([0, 1]);
  });

  it("the scheduler runs concurrent requests on different GPUs", async () => {
    const ran: number[] = [];
    const waiting: (() => void)[] = [];
    const backend: Backend = {
      kind: "native",
      instances: 4,
      gpus: [0, 0, 1, 1],
      start: async () => undefined,
      async execute(batch: readonly ExecutionRequest[], instance: number): Promise<ExecutionResult[]> {
        ran.push(instance);
        await new Promise<void>((r) => waiting.push(r));
        return batch.map(() => ({}));
      },
      stop: async () => {},
    };
    const s = new Scheduler(backend);
    const req = (id: string): ExecutionRequest => ({
      id,
      inputs: {},
      parameters: {},
      requestedOutputs: [],
      signal: undefined,
    });
    const done = [s.submit(req("a")), s.submit(req("b"))];
    await new Promise((r) => setImmediate(r));
    expect(ran.map((i) => backend.gpus![i])).toEqual([0, 1]);
    for (const w of waiting) w();
    await Promise.all(done);
  });
});
