import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Server } from "../../src/server.js";
import { INTERPRETER } from "../helpers/cli.js";
import { getJson, jsonOf } from "../helpers/json.js";
import { PB_HEADER, runPython, serveRepository, writeRepository } from "../helpers/repository.js";

// The repository's workers use the project's interpreter (numpy, tritonclient).
process.env.TENSORBIND_PYTHON = INTERPRETER;

// A Triton model repository written for this test: Python-backend models only.
const FILES: Record<string, string> = {
  "add_sub/config.pbtxt": `
name: "add_sub"
backend: "python"
input [
  { name: "INPUT0" data_type: TYPE_FP32 dims: [ 4 ] },
  { name: "INPUT1" data_type: TYPE_FP32 dims: [ 4 ] }
]
output [
  { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ 4 ] },
  { name: "OUTPUT1" data_type: TYPE_FP32 dims: [ 4 ] }
]
instance_group [ { kind: KIND_CPU count: 1 } ]
parameters { key: "greeting" value: { string_value: "hello" } }
`,
  "add_sub/1/model.py": `${PB_HEADER}
class TritonPythonModel:
    def initialize(self, args):
        self.model_config = json.loads(args["model_config"])
        self.dtype = pb_utils.triton_string_to_numpy(
            pb_utils.get_output_config_by_name(self.model_config, "OUTPUT0")["data_type"])
        self.args = args

    def execute(self, requests):
        responses = []
        for request in requests:
            a = pb_utils.get_input_tensor_by_name(request, "INPUT0").as_numpy()
            b = pb_utils.get_input_tensor_by_name(request, "INPUT1").as_numpy()
            responses.append(pb_utils.InferenceResponse([
                pb_utils.Tensor("OUTPUT0", (a + b).astype(self.dtype)),
                pb_utils.Tensor("OUTPUT1", (a - b).astype(self.dtype)),
            ]))
        return responses
`,
  // Version 1 is not served: the default policy serves the latest version only.
  "batched/1/model.py": "raise RuntimeError('version 1 must not be loaded')\n",
  "batched/config.pbtxt": `
backend: "python"
max_batch_size: 8
input [ { name: "X" data_type: TYPE_FP32 dims: [ 4 ] reshape: { shape: [ 2, 2 ] } } ]
output [
  { name: "Y" data_type: TYPE_FP32 dims: [ 4 ] reshape: { shape: [ 2, 2 ] } },
  { name: "REQUESTS" data_type: TYPE_INT32 dims: [ 1 ] }
]
dynamic_batching { max_queue_delay_microseconds: 200000 }
`,
  "batched/2/model.py": `${PB_HEADER}
class TritonPythonModel:
    def execute(self, requests):
        out = []
        for r in requests:
            x = pb_utils.get_input_tensor_by_name(r, "X").as_numpy()
            assert x.shape[1:] == (2, 2), x.shape  # reshape: the model sees [2, 2] rows
            n = np.full((x.shape[0], 1), len(requests), dtype=np.int32)
            out.append(pb_utils.InferenceResponse([pb_utils.Tensor("Y", x * 2), pb_utils.Tensor("REQUESTS", n)]))
        return out
`,
  "strings/config.pbtxt": `
backend: "python"
input [ { name: "TEXT" data_type: TYPE_STRING dims: [ -1 ] } ]
output [ { name: "UPPER" data_type: TYPE_STRING dims: [ -1 ] } ]
`,
  "strings/1/model.py": `${PB_HEADER}
class TritonPythonModel:
    def execute(self, requests):
        out = []
        for r in requests:
            text = pb_utils.get_input_tensor_by_name(r, "TEXT").as_numpy()
            upper = np.array([t.upper() for t in text], dtype=np.object_)
            if any(t == b"FAIL" for t in upper):
                out.append(pb_utils.InferenceResponse(error=pb_utils.TritonError("FAIL is not allowed")))
            else:
                out.append(pb_utils.InferenceResponse([pb_utils.Tensor("UPPER", upper)]))
        return out
`,
  // No tensors in the config: auto_complete_config declares them, as Triton lets it.
  "auto/config.pbtxt": 'backend: "python"\n',
  "auto/1/model.py": `${PB_HEADER}
class TritonPythonModel:
    @staticmethod
    def auto_complete_config(config):
        config.add_input({"name": "IN", "data_type": "TYPE_INT64", "dims": [2]})
        config.add_output({"name": "OUT", "data_type": "TYPE_INT64", "dims": [2]})
        config.set_max_batch_size(4)
        return config

    def execute(self, requests):
        return [pb_utils.InferenceResponse([pb_utils.Tensor("OUT",
            pb_utils.get_input_tensor_by_name(r, "IN").as_numpy() * 10)]) for r in requests]
`,
  "broken_syntax/config.pbtxt": `backend: "python"
input [ { name: "X" data_type: TYPE_FP32 dims: [ 1 ] } ]
output [ { name: "Y" data_type: TYPE_FP32 dims: [ 1 ] } ]
`,
  "broken_syntax/1/model.py":
    "class TritonPythonModel:\n    def execute(self, requests)\n        return []\n",
  "broken_config/config.pbtxt":
    'backend: "python"\ninput [ { name: "X" data_type: TYPE_FP32 dims: [ 1 ] }\noutput [ ]\n',
  "broken_config/1/model.py": "",
  "tensorflow/config.pbtxt": 'platform: "tensorflow_savedmodel"\n',
  "tensorflow/1/model.savedmodel/saved_model.pb": "",
};

describe("a Triton repository of Python-backend models", () => {
  let repo: string;
  let server: Server;

  beforeAll(async () => {
    repo = writeRepository(FILES);
    server = await serveRepository(repo, { grpc: 0 });
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    rmSync(repo, { recursive: true, force: true });
  });

  it("serves add_sub to tritonclient over HTTP and gRPC, with results equal to numpy's", async () => {
    const result = await runPython<{ http: number[][]; grpc: number[][] }>(
      `
import json, os, numpy as np
import tritonclient.http as httpclient, tritonclient.grpc as grpcclient
a = np.array([1, 2, 3, 4], dtype=np.float32); b = np.array([0.5, 0.5, 4, -1], dtype=np.float32)
out = {}
for name, mod, url in (("http", httpclient, os.environ["HTTP"]), ("grpc", grpcclient, os.environ["GRPC"])):
    c = mod.InferenceServerClient(url)
    assert c.is_model_ready("add_sub")
    i0 = mod.InferInput("INPUT0", [4], "FP32"); i0.set_data_from_numpy(a)
    i1 = mod.InferInput("INPUT1", [4], "FP32"); i1.set_data_from_numpy(b)
    r = c.infer("add_sub", [i0, i1])
    assert np.array_equal(r.as_numpy("OUTPUT0"), a + b) and np.array_equal(r.as_numpy("OUTPUT1"), a - b)
    out[name] = [r.as_numpy("OUTPUT0").tolist(), r.as_numpy("OUTPUT1").tolist()]
print(json.dumps(out))
`,
      { HTTP: server.urls.http!.replace("http://", ""), GRPC: server.urls.grpc! },
    );
    expect(result.http).toEqual([
      [1.5, 2.5, 7, 3],
      [0.5, 1.5, -1, 5],
    ]);
    expect(result.grpc).toEqual(result.http);
  });

  it("answers /config with the repository's config, completed as Triton completes it", async () => {
    const config = await getJson(`${server.urls.http}/v2/models/add_sub/config`);
    expect(config).toMatchObject({
      name: "add_sub",
      backend: "python",
      max_batch_size: 0,
      parameters: { greeting: { string_value: "hello" } },
      instance_group: [{ kind: "KIND_CPU", count: 1 }],
    });
    const meta = await getJson(`${server.urls.http}/v2/models/batched`);
    expect(meta).toMatchObject({ versions: ["2"], platform: "python" });
    expect(meta.inputs).toEqual([{ name: "X", datatype: "FP32", shape: [-1, 4] }]);
  });

  it("takes the tensors and max_batch_size that auto_complete_config declares", async () => {
    const meta = await getJson(`${server.urls.http}/v2/models/auto`);
    expect(meta.inputs).toEqual([{ name: "IN", datatype: "INT64", shape: [-1, 2] }]);
    const res = await fetch(`${server.urls.http}/v2/models/auto/infer`, {
      method: "POST",
      body: JSON.stringify({ inputs: [{ name: "IN", datatype: "INT64", shape: [1, 2], data: [1, 2] }] }),
    });
    expect((await jsonOf(res)).outputs[0]).toMatchObject({ name: "OUT", shape: [1, 2], data: [10, 20] });
    expect((await getJson(`${server.urls.http}/v2/models/auto/config`)).max_batch_size).toBe(4);
  });

  it("batches concurrent requests (execute gets several), with reshape applied both ways", async () => {
    const result = await runPython<{ most: number; ok: boolean }>(
      `
import json, os, numpy as np
import tritonclient.http as httpclient
c = httpclient.InferenceServerClient(os.environ["HTTP"], concurrency=6)
pending = []
for k in range(6):
    x = np.arange(8, dtype=np.float32).reshape(2, 4) + k
    i = httpclient.InferInput("X", [2, 4], "FP32"); i.set_data_from_numpy(x)
    pending.append((x, c.async_infer("batched", [i])))
most, ok = 0, True
for x, p in pending:
    r = p.get_result()
    ok = ok and np.array_equal(r.as_numpy("Y"), x * 2) and r.as_numpy("Y").shape == (2, 4)
    most = max(most, int(r.as_numpy("REQUESTS").max()))
print(json.dumps({"most": most, "ok": bool(ok)}))
`,
      { HTTP: server.urls.http!.replace("http://", "") },
    );
    expect(result.ok).toBe(true);
    expect(result.most).toBeGreaterThan(1);
  });

  it("serves BYTES tensors and answers a per-request TritonError with an error, then keeps serving", async () => {
    const result = await runPython<{ upper: string[]; error: string }>(
      `
import json, os, numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException
c = grpcclient.InferenceServerClient(os.environ["GRPC"])
def call(words):
    i = grpcclient.InferInput("TEXT", [len(words)], "BYTES")
    i.set_data_from_numpy(np.array(words, dtype=np.object_))
    return c.infer("strings", [i])
error = ""
try:
    call([b"fail"])
except InferenceServerException as e:
    error = e.message()
r = call([b"abc", "zürich".encode()])
print(json.dumps({"upper": [s.decode() for s in r.as_numpy("UPPER")], "error": error}))
`,
      { GRPC: server.urls.grpc! },
    );
    expect(result.error).toContain("FAIL is not allowed");
    expect(result.upper).toEqual(["ABC", "ZüRICH"]);
  });

  it("lists models that failed to load with why: file and line for syntax errors, the unknown platform by name", async () => {
    const index = (await (
      await fetch(`${server.urls.http}/v2/repository/index`, { method: "POST" })
    ).json()) as {
      name: string;
      version: string;
      state: string;
      reason: string;
    }[];
    const byName = Object.fromEntries(index.map((e) => [e.name, e]));
    expect(byName.add_sub).toMatchObject({ version: "1", state: "READY" });
    expect(byName.batched).toMatchObject({ version: "2", state: "READY" });
    expect(byName.broken_syntax!.state).toBe("UNAVAILABLE");
    expect(byName.broken_syntax!.reason).toContain(`${join(repo, "broken_syntax/1/model.py")}:2`);
    expect(byName.broken_syntax!.reason).toContain("SyntaxError");
    expect(byName.broken_config!.reason).toContain(`${join(repo, "broken_config/config.pbtxt")}:3:1`);
    expect(byName.tensorflow!.reason).toMatch(/platform 'tensorflow_savedmodel' is not supported/);
    const ready = await getJson(`${server.urls.http}/v2/repository/index`, {
      method: "POST",
      body: '{"ready": true}',
    });
    expect(ready.map((e: { name: string }) => e.name).sort()).toEqual([
      "add_sub",
      "auto",
      "batched",
      "strings",
    ]);
    const meta = await getJson(`${server.urls.http}/v2`);
    expect(meta.extensions).toContain("model_repository");
  });
});

describe("a repository model's Python environment", () => {
  it("runs in the interpreter of EXECUTION_ENV_PATH", async () => {
    const repo = writeRepository({
      "which/config.pbtxt": `backend: "python"
input [ { name: "X" data_type: TYPE_INT32 dims: [ 1 ] } ]
output [ { name: "EXE" data_type: TYPE_STRING dims: [ 1 ] } ]
parameters { key: "EXECUTION_ENV_PATH" value: { string_value: "${INTERPRETER}" } }
`,
      "which/1/model.py": `${PB_HEADER}
import sys
class TritonPythonModel:
    def execute(self, requests):
        return [pb_utils.InferenceResponse([pb_utils.Tensor("EXE", np.array([sys.executable.encode()], dtype=np.object_))]) for _ in requests]
`,
    });
    const server = await serveRepository([repo]);
    try {
      const res = await fetch(`${server.urls.http}/v2/models/which/infer`, {
        method: "POST",
        body: JSON.stringify({ inputs: [{ name: "X", datatype: "INT32", shape: [1], data: [0] }] }),
      });
      const body = await jsonOf(res);
      expect(res.status).toBe(200);
      expect(body.outputs[0].data[0]).toMatch(/python/);
    } finally {
      await server.close();
      rmSync(repo, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("BLS: a Python-backend model calling other models of the server", () => {
  it("exec() and async_exec() reach the other model through the server, tensors through shared memory", async () => {
    const repo = writeRepository({
      "add_sub/config.pbtxt": FILES["add_sub/config.pbtxt"]!,
      "add_sub/1/model.py": FILES["add_sub/1/model.py"]!,
      "caller/config.pbtxt": `backend: "python"
input [ { name: "A" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "SUM" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "DIFF" data_type: TYPE_FP32 dims: [ 4 ] } ]
`,
      "caller/1/model.py": `${PB_HEADER}
class TritonPythonModel:
    async def execute(self, requests):
        out = []
        for r in requests:
            a = pb_utils.get_input_tensor_by_name(r, "A").as_numpy()
            ones = pb_utils.Tensor("INPUT1", np.ones(4, dtype=np.float32))
            sync = pb_utils.InferenceRequest(model_name="add_sub", requested_output_names=["OUTPUT0"],
                inputs=[pb_utils.Tensor("INPUT0", a), ones]).exec()
            if sync.has_error():
                raise pb_utils.TritonModelException(sync.error().message())
            later = await pb_utils.InferenceRequest(model_name="add_sub", requested_output_names=["OUTPUT1"],
                inputs=[pb_utils.Tensor("INPUT0", a), ones]).async_exec()
            missing = pb_utils.InferenceRequest(model_name="nope", requested_output_names=["Y"],
                inputs=[ones]).exec()
            assert missing.has_error() and "nope" in missing.error().message()
            out.append(pb_utils.InferenceResponse([
                pb_utils.Tensor("SUM", pb_utils.get_output_tensor_by_name(sync, "OUTPUT0").as_numpy()),
                pb_utils.Tensor("DIFF", pb_utils.get_output_tensor_by_name(later, "OUTPUT1").as_numpy()),
            ]))
        return out
`,
    });
    const server = await serveRepository(repo);
    try {
      const before = (await getJson(`${server.urls.http}/v2/models/add_sub/stats`)).model_stats[0]
        .inference_stats.success.count;
      const res = await fetch(`${server.urls.http}/v2/models/caller/infer`, {
        method: "POST",
        body: JSON.stringify({ inputs: [{ name: "A", datatype: "FP32", shape: [4], data: [1, 2, 3, 4] }] }),
      });
      const body = await jsonOf(res);
      expect(res.status).toBe(200);
      expect(body.outputs).toEqual([
        { name: "SUM", datatype: "FP32", shape: [4], data: [2, 3, 4, 5] },
        { name: "DIFF", datatype: "FP32", shape: [4], data: [0, 1, 2, 3] },
      ]);
      // The two calls went through the server's request path: add_sub counted them.
      const after = (await getJson(`${server.urls.http}/v2/models/add_sub/stats`)).model_stats[0]
        .inference_stats.success.count;
      expect(after - before).toBe(2);
    } finally {
      await server.close();
      rmSync(repo, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("instance_group KIND_GPU", () => {
  it("pins each worker to its GPU (python()'s { count, gpus }) and tells initialize() the device", async () => {
    const repo = writeRepository({
      "ongpu/config.pbtxt": `backend: "python"
input [ { name: "X" data_type: TYPE_INT32 dims: [ 1 ] } ]
output [ { name: "INFO" data_type: TYPE_STRING dims: [ 1 ] } ]
instance_group [ { kind: KIND_GPU count: 1 gpus: [ 1 ] } ]
`,
      "ongpu/1/model.py": `${PB_HEADER}
import os
class TritonPythonModel:
    def initialize(self, args):
        self.info = json.dumps([args["model_instance_kind"], args["model_instance_device_id"],
                                os.environ.get("CUDA_VISIBLE_DEVICES")])
    def execute(self, requests):
        return [pb_utils.InferenceResponse([pb_utils.Tensor("INFO", np.array([self.info.encode()], dtype=np.object_))])
                for r in requests]
`,
    });
    const server = await serveRepository(repo);
    try {
      const res = await fetch(`${server.urls.http}/v2/models/ongpu/infer`, {
        method: "POST",
        body: JSON.stringify({ inputs: [{ name: "X", datatype: "INT32", shape: [1], data: [0] }] }),
      });
      expect(JSON.parse((await jsonOf(res)).outputs[0].data[0])).toEqual(["GPU", "1", "1"]);
      const config = await getJson(`${server.urls.http}/v2/models/ongpu/config`);
      expect(config.instance_group).toEqual([{ kind: "KIND_GPU", count: 1, gpus: [1] }]);
    } finally {
      await server.close();
      rmSync(repo, { recursive: true, force: true });
    }
  }, 60_000);
});
