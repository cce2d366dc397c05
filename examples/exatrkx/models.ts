// The ExaTrkX-style pipeline the tensorbind way: each stage a Python function bound as its own
// model (callable alone), and `exatrkx` chaining them, one event per request. The stages run the
// same code and weights as model_repository/ (see stages.py). Serve it with:
//   TENSORBIND_PYTHON=.venv/bin/python npx tensorbind serve examples/exatrkx/models.ts
// EXATRKX_DEVICE=cuda:0 runs the networks and frnn on a GPU; EXATRKX_INSTANCES=k gives each stage k workers.
import { fileURLToPath } from "node:url";
import { bind, pipeline, python, type TensorSpec, tensor } from "tensorbind";

const STAGES = fileURLToPath(new URL("./stages.py", import.meta.url));
const instances = Number(process.env.EXATRKX_INSTANCES ?? 1);
const env = { EXATRKX_DEVICE: process.env.EXATRKX_DEVICE ?? "cpu" };

const FEATURES = tensor("FP32", [-1, 3]);
const EDGES = tensor("INT64", [2, -1]);
const SCORES = tensor("FP32", [-1]);

function stage(name: string, inputs: Record<string, TensorSpec>, outputs: Record<string, TensorSpec>): void {
  bind({
    name,
    inputs,
    outputs,
    instances,
    fn: python(STAGES, name, { instances, env, startupTimeoutMs: 300_000 }),
  });
}

stage("embed", { FEATURES }, { EMBEDDING: tensor("FP32", [-1, 8]) });
stage("frnn", { EMBEDDING: tensor("FP32", [-1, 8]), FEATURES }, { EDGES });
stage("filter", { FEATURES, EDGES }, { SCORES });
stage("applyfilter", { EDGES, SCORES }, { EDGES_OUT: EDGES });
stage("gnn", { FEATURES, EDGES }, { SCORES });
stage("wcc", { FEATURES, EDGES, SCORES }, { LABELS: tensor("INT64", [-1]) });

bind({
  name: "exatrkx",
  inputs: { FEATURES },
  outputs: { LABELS: tensor("INT64", [-1]) },
  fn: pipeline([
    { model: "embed", inputs: { FEATURES: "FEATURES" }, outputs: { EMBEDDING: "embedding" } },
    {
      model: "frnn",
      inputs: { EMBEDDING: "embedding", FEATURES: "FEATURES" },
      outputs: { EDGES: "candidates" },
    },
    {
      model: "filter",
      inputs: { FEATURES: "FEATURES", EDGES: "candidates" },
      outputs: { SCORES: "filter_scores" },
    },
    {
      model: "applyfilter",
      inputs: { EDGES: "candidates", SCORES: "filter_scores" },
      outputs: { EDGES_OUT: "kept" },
    },
    { model: "gnn", inputs: { FEATURES: "FEATURES", EDGES: "kept" }, outputs: { SCORES: "gnn_scores" } },
    {
      model: "wcc",
      inputs: { FEATURES: "FEATURES", EDGES: "kept", SCORES: "gnn_scores" },
      outputs: { LABELS: "LABELS" },
    },
  ]),
});
