import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Server } from "../../src/server.js";
import { INTERPRETER } from "../helpers/cli.js";
import { getJson, jsonOf } from "../helpers/json.js";
import { PB_HEADER, runPython, serveRepository, writeRepository } from "../helpers/repository.js";

process.env.TENSORBIND_PYTHON = INTERPRETER;

/** A model answering X + VALUE after `sleepMs`; VALUE tells which copy of model.py answered. */
const modelPy = (value: number, sleepMs = 0) => `${PB_HEADER}
import time
class TritonPythonModel:
    def execute(self, requests):
        time.sleep(${sleepMs / 1000})
        return [pb_utils.InferenceResponse([pb_utils.Tensor("Y",
            pb_utils.get_input_tensor_by_name(r, "X").as_numpy() + ${value})]) for r in requests]
`;
const CONFIG = `backend: "python"
input [ { name: "X" data_type: TYPE_INT32 dims: [ 1 ] } ]
output [ { name: "Y" data_type: TYPE_INT32 dims: [ 1 ] } ]
instance_group [ { count: 2 kind: KIND_CPU } ]
`;
const ENSEMBLE = `platform: "ensemble"
input [ { name: "X" data_type: TYPE_INT32 dims: [ 1 ] } ]
output [ { name: "Y" data_type: TYPE_INT32 dims: [ 1 ] } ]
ensemble_scheduling { step [ { model_name: "plus" input_map { key: "X" value: "X" } output_map { key: "Y" value: "Y" } } ] }
`;

async function infer(
  http: string,
  model: string,
  x = 1,
): Promise<{ status: number; y?: number; error?: string }> {
  const res = await fetch(`${http}/v2/models/${model}/infer`, {
    method: "POST",
    body: JSON.stringify({ inputs: [{ name: "X", datatype: "INT32", shape: [1], data: [x] }] }),
  });
  const body = await jsonOf(res);
  return { status: res.status, ...(res.ok ? { y: body.outputs[0].data[0] } : { error: body.error }) };
}

const waitFor = async (check: () => Promise<boolean>, ms: number): Promise<boolean> => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
};

describe("explicit model control: load, unload and reload through the repository API", () => {
  let repo: string;
  let server: Server;

  beforeAll(async () => {
    repo = writeRepository({
      "plus/config.pbtxt": CONFIG,
      "plus/1/model.py": modelPy(100, 20),
      "slow/config.pbtxt": CONFIG,
      "slow/1/model.py": modelPy(7, 600),
      "chain/config.pbtxt": ENSEMBLE,
      "chain/1/.keep": "",
    });
    server = await serveRepository(repo, { grpc: 0, modelControlMode: "explicit", loadModels: ["plus"] });
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    rmSync(repo, { recursive: true, force: true });
  });

  it("loads only --load-model at start; tritonclient loads, lists and unloads over HTTP and gRPC", async () => {
    const result = await runPython<Record<string, unknown>>(
      `
import json, os
import tritonclient.http as httpclient, tritonclient.grpc as grpcclient
h = httpclient.InferenceServerClient(os.environ["HTTP"]); g = grpcclient.InferenceServerClient(os.environ["GRPC"])
out = {"start": sorted(m["name"] for m in h.get_model_repository_index() if m.get("state") == "READY")}
h.load_model("slow")
out["after_http_load"] = sorted(m["name"] for m in h.get_model_repository_index() if m.get("state") == "READY")
g.load_model("chain")
idx = g.get_model_repository_index(as_json=True)
out["grpc_ready"] = h.is_model_ready("chain") and g.is_model_ready("slow")
g.unload_model("slow")
out["after_grpc_unload"] = sorted(m["name"] for m in h.get_model_repository_index() if m.get("state") == "READY")
out["all_names"] = sorted(m["name"] for m in idx["models"])
try:
    h.load_model("nope")
except Exception as e:
    out["unknown"] = str(e)
print(json.dumps(out))
`,
      { HTTP: server.urls.http!.replace("http://", ""), GRPC: server.urls.grpc! },
    );
    expect(result.start).toEqual(["plus"]);
    expect(result.after_http_load).toEqual(["plus", "slow"]);
    expect(result.grpc_ready).toBe(true);
    expect(result.after_grpc_unload).toEqual(["chain", "plus"]);
    expect(result.all_names).toEqual(["chain", "plus", "slow"]);
    expect(result.unknown).toContain("no such model");
    const index = await getJson(`${server.urls.http}/v2/repository/index`, { method: "POST" });
    expect(index.find((e: { name: string }) => e.name === "slow")).toMatchObject({
      state: "UNAVAILABLE",
      reason: "unloaded",
    });
  });

  it("reloads under load with zero failed requests; new requests reach the new code once it is ready", async () => {
    const http = server.urls.http!;
    const seen = new Set<number>();
    let failures = 0;
    let total = 0;
    let stop = false;
    const loop = async () => {
      while (!stop) {
        const r = await infer(http, "plus");
        total++;
        if (r.status !== 200) failures++;
        else seen.add(r.y!);
      }
    };
    const loops = Array.from({ length: 4 }, loop);
    await new Promise((r) => setTimeout(r, 300));
    writeFileSync(join(repo, "plus/1/model.py"), modelPy(200, 20));
    const res = await fetch(`${http}/v2/repository/models/plus/load`, { method: "POST" });
    expect(res.status).toBe(200);
    const after = await infer(http, "plus");
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await Promise.all(loops);
    expect(failures).toBe(0);
    expect(total).toBeGreaterThan(10);
    expect(after.y).toBe(201);
    expect([...seen].sort()).toEqual([101, 201]);
  });

  it("keeps the old version serving when the new one is broken, and says why (file and line)", async () => {
    const http = server.urls.http!;
    writeFileSync(
      join(repo, "plus/1/model.py"),
      "class TritonPythonModel:\n    def execute(self, requests)\n",
    );
    const res = await fetch(`${http}/v2/repository/models/plus/load`, { method: "POST" });
    expect(res.status).toBe(400);
    const { error } = await jsonOf(res);
    expect(error).toContain("load failed for model 'plus'");
    expect(error).toContain(`${join(repo, "plus/1/model.py")}:2`);
    expect(await infer(http, "plus")).toMatchObject({ status: 200, y: 201 });
    writeFileSync(join(repo, "plus/1/model.py"), modelPy(200, 20));
  });

  it("answers the requests in flight when a model is unloaded, then refuses new ones", async () => {
    const http = server.urls.http!;
    expect((await fetch(`${http}/v2/repository/models/slow/load`, { method: "POST" })).status).toBe(200);
    const inFlight = [infer(http, "slow", 1), infer(http, "slow", 2)];
    await new Promise((r) => setTimeout(r, 150));
    const unload = await fetch(`${http}/v2/repository/models/slow/unload`, { method: "POST" });
    expect(unload.status).toBe(200);
    expect(await Promise.all(inFlight)).toEqual([
      { status: 200, y: 8 },
      { status: 200, y: 9 },
    ]);
    expect((await infer(http, "slow")).status).toBe(404);
  });

  it("unloads the ensembles using a model with unload_dependents", async () => {
    const http = server.urls.http!;
    expect((await fetch(`${http}/v2/repository/models/chain/load`, { method: "POST" })).status).toBe(200);
    expect(await infer(http, "chain", 5)).toMatchObject({ status: 200, y: 205 });
    const res = await fetch(`${http}/v2/repository/models/plus/unload`, {
      method: "POST",
      body: JSON.stringify({ parameters: { unload_dependents: true } }),
    });
    expect(res.status).toBe(200);
    const ready = await getJson(`${http}/v2/repository/index`, { method: "POST", body: '{"ready":true}' });
    expect(ready).toEqual([]);
    expect((await fetch(`${http}/v2/repository/models/plus/load`, { method: "POST" })).status).toBe(200);
  });

  it("loads a model from a config override and file overrides (tritonclient's load_model(config, files))", async () => {
    const result = await runPython<{ y: number; config: Record<string, unknown> }>(
      `
import json, os, numpy as np
import tritonclient.grpc as grpcclient
g = grpcclient.InferenceServerClient(os.environ["GRPC"])
config = {"backend": "python", "input": [{"name": "X", "data_type": "TYPE_INT32", "dims": [1]}],
          "output": [{"name": "Y", "data_type": "TYPE_INT32", "dims": [1]}]}
g.load_model("uploaded", config=json.dumps(config), files={"file:1/model.py": os.environ["MODEL_PY"].encode()})
i = grpcclient.InferInput("X", [1], "INT32"); i.set_data_from_numpy(np.array([1], dtype=np.int32))
y = int(g.infer("uploaded", [i]).as_numpy("Y")[0])
print(json.dumps({"y": y, "config": g.get_model_config("uploaded", as_json=True)["config"]}))
`,
      { GRPC: server.urls.grpc!, MODEL_PY: modelPy(40) },
    );
    expect(result.y).toBe(41);
    expect(result.config).toMatchObject({ name: "uploaded", backend: "python" });
  });
});

describe("poll and watch: the repository on disk is followed", () => {
  const start = serveRepository;

  it("poll mode loads a new version directory and keeps serving through a broken config.pbtxt", async () => {
    const repo = writeRepository({ "plus/config.pbtxt": CONFIG, "plus/1/model.py": modelPy(100) });
    const server = await start(repo, { modelControlMode: "poll", repositoryPollSecs: 1 });
    try {
      const http = server.urls.http!;
      expect(await infer(http, "plus")).toMatchObject({ y: 101 });
      // A new version directory: version 2, the latest, is loaded and version 1 dropped.
      mkdirSync(join(repo, "plus/2"));
      writeFileSync(join(repo, "plus/2/model.py"), modelPy(300));
      expect(await waitFor(async () => (await infer(http, "plus")).y === 301, 20_000)).toBe(true);
      expect((await getJson(`${http}/v2/models/plus`)).versions).toEqual(["2"]);
      // A broken config.pbtxt fails the reload; the loaded version keeps serving.
      writeFileSync(join(repo, "plus/config.pbtxt"), "backend: python\n");
      await new Promise((r) => setTimeout(r, 2500));
      expect(await infer(http, "plus")).toMatchObject({ status: 200, y: 301 });
    } finally {
      await server.close();
      rmSync(repo, { recursive: true, force: true });
    }
  }, 60_000);

  it("--watch reloads a model whose model.py changed, without polling or an API call", async () => {
    const repo = writeRepository({ "plus/config.pbtxt": CONFIG, "plus/1/model.py": modelPy(100) });
    const server = await start(repo, { modelControlMode: "explicit", loadModels: ["*"], watch: true });
    try {
      const http = server.urls.http!;
      expect(await infer(http, "plus")).toMatchObject({ y: 101 });
      writeFileSync(join(repo, "plus/1/model.py"), modelPy(400));
      expect(await waitFor(async () => (await infer(http, "plus")).y === 401, 20_000)).toBe(true);
    } finally {
      await server.close();
      rmSync(repo, { recursive: true, force: true });
    }
  }, 60_000);
});
