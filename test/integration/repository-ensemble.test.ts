import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pipeline } from "../../src/backends/pipeline/index.js";
import { tensor } from "../../src/core/tensor-factory.js";
import { Registry } from "../../src/model/registry.js";
import type { Server } from "../../src/server.js";
import { INTERPRETER } from "../helpers/cli.js";
import { getJson, jsonOf } from "../helpers/json.js";
import { PB_HEADER, runPython, serveRepository, writeRepository } from "../helpers/repository.js";

process.env.TENSORBIND_PYTHON = INTERPRETER;

// A TorchScript model (made with torch.jit.script), an ONNX model (built with onnx.helper), a
// Python-backend model, and an ensemble chaining the three: IN → scale → square → total → OUT.
const FILES: Record<string, string> = {
  "scale/config.pbtxt": `
platform: "pytorch_libtorch"
max_batch_size: 8
input [ { name: "INPUT__0" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "OUTPUT__0" data_type: TYPE_FP32 dims: [ 4 ] } ]
dynamic_batching { }
`,
  "square/config.pbtxt": `
platform: "onnxruntime_onnx"
max_batch_size: 8
input [ { name: "X" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "Y" data_type: TYPE_FP32 dims: [ 4 ] } ]
`,
  "total/config.pbtxt": `
backend: "python"
max_batch_size: 8
input [ { name: "V" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "SUM" data_type: TYPE_FP32 dims: [ 1 ] } ]
`,
  "total/1/model.py": `${PB_HEADER}
class TritonPythonModel:
    def execute(self, requests):
        out = []
        for r in requests:
            v = pb_utils.get_input_tensor_by_name(r, "V").as_numpy()
            if (v > 1e6).any():
                out.append(pb_utils.InferenceResponse(error=pb_utils.TritonError("value too large")))
            else:
                out.append(pb_utils.InferenceResponse([pb_utils.Tensor("SUM", v.sum(axis=1, keepdims=True))]))
        return out
`,
  "pipeline/config.pbtxt": `
platform: "ensemble"
max_batch_size: 8
input [ { name: "IN" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "OUT" data_type: TYPE_FP32 dims: [ 1 ] } ]
ensemble_scheduling {
  step [
    { model_name: "scale" model_version: -1
      input_map { key: "INPUT__0" value: "IN" } output_map { key: "OUTPUT__0" value: "scaled" } },
    { model_name: "square" model_version: -1
      input_map { key: "X" value: "scaled" } output_map { key: "Y" value: "squared" } },
    { model_name: "total" model_version: -1
      input_map { key: "V" value: "squared" } output_map { key: "SUM" value: "OUT" } }
  ]
}
`,
  "pipeline/1/.keep": "",
  "orphan/config.pbtxt": `
platform: "ensemble"
input [ { name: "IN" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "OUT" data_type: TYPE_FP32 dims: [ 4 ] } ]
ensemble_scheduling { step [ { model_name: "missing" input_map { key: "X" value: "IN" } output_map { key: "Y" value: "OUT" } } ] }
`,
  "orphan/1/.keep": "",
};

const MAKE_MODELS = `
import os, sys, torch, onnx
from onnx import helper, TensorProto
root = os.environ["REPO"]
class Scale(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2.0 + 1.0
os.makedirs(f"{root}/scale/1", exist_ok=True)
torch.jit.script(Scale()).save(f"{root}/scale/1/model.pt")
x = helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 4])
y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N", 4])
graph = helper.make_graph([helper.make_node("Mul", ["X", "X"], ["Y"])], "square", [x], [y])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
model.ir_version = 8
os.makedirs(f"{root}/square/1", exist_ok=True)
onnx.save(model, f"{root}/square/1/model.onnx")
print("null")
`;

describe("a repository mixing TorchScript, ONNX and Python-backend models in an ensemble", () => {
  let repo: string;
  let server: Server;
  const registry = new Registry();

  beforeAll(async () => {
    repo = writeRepository(FILES);
    await runPython(MAKE_MODELS, { REPO: repo }, 120_000);
    // The same pipeline declared from TypeScript, beside the repository's.
    registry.bind({
      name: "ts_pipeline",
      inputs: { IN: tensor("FP32", [4]) },
      outputs: { OUT: tensor("FP32", [1]) },
      maxBatchSize: 8,
      fn: pipeline([
        { model: "scale", inputs: { INPUT__0: "IN" }, outputs: { OUTPUT__0: "scaled" } },
        { model: "square", inputs: { X: "scaled" }, outputs: { Y: "squared" } },
        { model: "total", inputs: { V: "squared" }, outputs: { SUM: "OUT" } },
      ]),
    });
    server = await serveRepository(repo, { grpc: 0, registry });
  }, 180_000);

  afterAll(async () => {
    await server?.close();
    rmSync(repo, { recursive: true, force: true });
  });

  it("answers each model as torch, onnxruntime and numpy compute it, over HTTP and gRPC", async () => {
    const result = await runPython<Record<string, boolean>>(
      `
import json, os, numpy as np, torch, onnxruntime as ort
import tritonclient.http as httpclient, tritonclient.grpc as grpcclient
repo = os.environ["REPO"]
x = np.array([[1, -2, 3.5, 0], [0.25, 4, -1, 2]], dtype=np.float32)
scaled = torch.jit.load(f"{repo}/scale/1/model.pt")(torch.from_numpy(x)).numpy()
squared = ort.InferenceSession(f"{repo}/square/1/model.onnx").run(["Y"], {"X": scaled})[0]
total = squared.sum(axis=1, keepdims=True)
ok = {}
for proto, mod, url in (("http", httpclient, os.environ["HTTP"]), ("grpc", grpcclient, os.environ["GRPC"])):
    c = mod.InferenceServerClient(url)
    def call(model, name, value, out):
        i = mod.InferInput(name, list(value.shape), "FP32"); i.set_data_from_numpy(value)
        return c.infer(model, [i]).as_numpy(out)
    ok[proto + "_scale"] = np.array_equal(call("scale", "INPUT__0", x, "OUTPUT__0"), scaled)
    ok[proto + "_square"] = np.array_equal(call("square", "X", scaled, "Y"), squared)
    ok[proto + "_total"] = np.allclose(call("total", "V", squared, "SUM"), total)
    ok[proto + "_pipeline"] = np.allclose(call("pipeline", "IN", x, "OUT"), total)
    ok[proto + "_ts_pipeline"] = np.allclose(call("ts_pipeline", "IN", x, "OUT"), total)
print(json.dumps({k: bool(v) for k, v in ok.items()}))
`,
      { REPO: repo, HTTP: server.urls.http!.replace("http://", ""), GRPC: server.urls.grpc! },
      120_000,
    );
    expect(Object.values(result)).toHaveLength(10);
    for (const [k, v] of Object.entries(result)) expect([k, v]).toEqual([k, true]);
  });

  it("counts every step in its model's statistics, and the ensemble's own requests", async () => {
    const stats = async (model: string) =>
      (await getJson(`${server.urls.http}/v2/models/${model}/stats`)).model_stats[0].inference_stats.success
        .count as number;
    const before = await Promise.all(["pipeline", "scale", "square", "total"].map(stats));
    const res = await fetch(`${server.urls.http}/v2/models/pipeline/infer`, {
      method: "POST",
      body: JSON.stringify({ inputs: [{ name: "IN", datatype: "FP32", shape: [1, 4], data: [1, 2, 3, 4] }] }),
    });
    expect(res.status).toBe(200);
    // (2x+1)^2 summed: 9 + 25 + 49 + 81
    expect((await jsonOf(res)).outputs[0]).toMatchObject({ name: "OUT", shape: [1, 1], data: [164] });
    const after = await Promise.all(["pipeline", "scale", "square", "total"].map(stats));
    expect(after.map((a, i) => a - before[i]!)).toEqual([1, 1, 1, 1]);
  });

  it("names the failing step in the error, keeps the step's status, and keeps serving", async () => {
    const res = await fetch(`${server.urls.http}/v2/models/pipeline/infer`, {
      method: "POST",
      body: JSON.stringify({
        inputs: [{ name: "IN", datatype: "FP32", shape: [1, 4], data: [1e6, 0, 0, 0] }],
      }),
    });
    expect(res.status).toBe(500);
    expect((await jsonOf(res)).error).toMatch(
      /ensemble 'pipeline' step 2 \(model 'total'\) failed: .*value too large/,
    );
    const bad = await fetch(`${server.urls.http}/v2/models/ts_pipeline/infer`, {
      method: "POST",
      body: JSON.stringify({ inputs: [{ name: "IN", datatype: "FP32", shape: [1, 3], data: [1, 2, 3] }] }),
    });
    expect(bad.status).toBe(400);
    const ok = await fetch(`${server.urls.http}/v2/models/pipeline/ready`);
    expect(ok.status).toBe(200);
  });

  it("refuses an ensemble whose step model is not in the repository", async () => {
    const index = await getJson(`${server.urls.http}/v2/repository/index`, { method: "POST" });
    const orphan = index.find((e: { name: string }) => e.name === "orphan");
    expect(orphan).toMatchObject({ state: "UNAVAILABLE" });
    expect(orphan.reason).toContain("step model 'missing' is not in the repository");
    const config = await getJson(`${server.urls.http}/v2/models/scale/config`);
    expect(config).toMatchObject({ platform: "pytorch_libtorch", backend: "pytorch", max_batch_size: 8 });
  });
});
