// Python workers pinned to GPUs, checked with CUDA_VISIBLE_DEVICES-style fakes: no GPU is needed
// to see which GPU each worker was given (bench/gpu/multi-gpu.sh runs it on real GPUs).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { python } from "../../src/backends/python/index.js";
import { bindPythonFile } from "../../src/cli/python-file.js";
import type { Backend, ExecutionRequest } from "../../src/core/backend.js";
import { silentLogger } from "../../src/core/logger.js";
import { Tensor } from "../../src/core/tensor.js";
import { tensor } from "../../src/core/tensor-factory.js";
import { Registry } from "../../src/model/registry.js";
import { serve } from "../../src/server.js";
import { INTERPRETER } from "../helpers/cli.js";
import { getJson } from "../helpers/json.js";
import { startServer } from "../helpers/server.js";

const FIXTURES = "python/tests/fixtures/models.py";
const runtimeDir = mkdtempSync(join(tmpdir(), "tb-gpu-pin-"));
const started: Backend[] = [];
const serverVisible = process.env.CUDA_VISIBLE_DEVICES;

afterEach(() => {
  if (serverVisible === undefined) delete process.env.CUDA_VISIBLE_DEVICES;
  else process.env.CUDA_VISIBLE_DEVICES = serverVisible;
});
afterAll(async () => {
  await Promise.all(started.map((b) => b.stop()));
  rmSync(runtimeDir, { recursive: true, force: true });
});

const request: ExecutionRequest = {
  id: undefined,
  inputs: { x: Tensor.fromArray("INT32", [1], [1], "x") },
  parameters: {},
  requestedOutputs: [],
  signal: undefined,
};

async function start(options: Parameters<typeof python>[2]) {
  const backend = python(FIXTURES, "visible_gpu", { interpreter: INTERPRETER, ...options }).create();
  started.push(backend);
  await backend.start({ model: "visible_gpu", version: "1", log: silentLogger, runtimeDir });
  return backend;
}

/** [CUDA_VISIBLE_DEVICES, TENSORBIND_GPU, TENSORBIND_INSTANCE] as instance `i`'s worker sees them. */
async function seenBy(backend: Backend, i: number): Promise<string[]> {
  const [result] = await backend.execute([request], i);
  if (result instanceof Error || result === undefined) throw result ?? new Error("no result");
  return result.env!.strings();
}

describe("Python workers pinned to GPUs", () => {
  it("start count workers per listed GPU, each seeing only its GPU", async () => {
    delete process.env.CUDA_VISIBLE_DEVICES;
    const backend = await start({ instances: { count: 2, gpus: [0, 1] } });
    expect(backend.instances).toBe(4);
    expect(backend.gpus).toEqual([0, 1, 0, 1]);
    const seen = await Promise.all([0, 1, 2, 3].map((i) => seenBy(backend, i)));
    expect(seen).toEqual([
      ["0", "0", "0"],
      ["1", "1", "1"],
      ["0", "0", "2"],
      ["1", "1", "3"],
    ]);
    await backend.stop();
  }, 60_000);

  it("count GPUs in the server's own CUDA_VISIBLE_DEVICES", async () => {
    process.env.CUDA_VISIBLE_DEVICES = "GPU-aaaa,GPU-bbbb";
    const backend = await start({ instances: { count: 1, gpus: [1] } });
    expect(await seenBy(backend, 0)).toEqual(["GPU-bbbb", "1", "0"]);
    await backend.stop();
  }, 60_000);

  it("refuse a GPU the server cannot see, naming it", async () => {
    process.env.CUDA_VISIBLE_DEVICES = "5,7";
    await expect(start({ instances: { count: 1, gpus: [2] } })).rejects.toThrow(
      /GPU 2 is not visible to this server \(CUDA_VISIBLE_DEVICES=5,7\)/,
    );
  }, 60_000);

  it("pin every worker of device cuda:N to GPU N, where torch sees it as cuda:0", () => {
    const backend = python(FIXTURES, "visible_gpu", {
      framework: "torch",
      device: "cuda:1",
      instances: 2,
    }).create();
    expect(backend.gpus).toEqual([1, 1]);
    expect(backend.instanceGroups).toEqual([{ kind: "KIND_GPU", count: 2, gpus: [1] }]);
    expect(() =>
      python(FIXTURES, "visible_gpu", { framework: "torch", device: "cuda:1", instances: { gpus: [0] } }),
    ).toThrow(/not both/);
  });

  it("shows the group in the model config as Triton does", async () => {
    delete process.env.CUDA_VISIBLE_DEVICES;
    const server = await startServer([
      {
        name: "pinned",
        inputs: { x: tensor("INT32", [1]) },
        outputs: { env: tensor("BYTES", [3]) },
        fn: python(FIXTURES, "visible_gpu", {
          interpreter: INTERPRETER,
          instances: { count: 2, gpus: [0, 1] },
        }),
      },
    ]);
    try {
      const config = await getJson(`${server.urls.http}/v2/models/pinned/config`);
      expect(config.instance_group).toEqual([{ name: "pinned_0", kind: "KIND_GPU", count: 2, gpus: [0, 1] }]);
    } finally {
      await server.close();
    }
  }, 60_000);

  it("take gpus= from @tensorbind.model when a .py file is served", async () => {
    delete process.env.CUDA_VISIBLE_DEVICES;
    const file = join(runtimeDir, "pinned_model.py");
    writeFileSync(
      file,
      [
        "import os, numpy as np, tensorbind",
        '@tensorbind.model(inputs={"x": ("INT32", [1])}, outputs={"env": ("BYTES", [1])}, instances=1, gpus=[1, 0])',
        "def pinned(x):",
        '    return {"env": np.array([os.environ["CUDA_VISIBLE_DEVICES"].encode()], dtype=object)}',
        "",
      ].join("\n"),
    );
    const registry = new Registry();
    await bindPythonFile(file, { interpreter: INTERPRETER, registry });
    const server = await serve({ http: 0, grpc: false, metrics: false, logger: silentLogger, registry });
    try {
      const config = await getJson(`${server.urls.http}/v2/models/pinned/config`);
      expect(config.instance_group).toEqual([{ name: "pinned_0", kind: "KIND_GPU", count: 1, gpus: [1, 0] }]);
      const backend = registry.get("pinned").backend;
      expect(backend.gpus).toEqual([1, 0]);
      expect((await seenBy(backend, 0))[0]).toBe("1");
      expect((await seenBy(backend, 1))[0]).toBe("0");
    } finally {
      await server.close();
    }
  }, 60_000);
});
