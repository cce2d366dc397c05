import { rmSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { INTERPRETER, ROOT } from "../helpers/cli.js";
import { getJson, jsonOf } from "../helpers/json.js";
import { PB_HEADER, serveRepository, writeRepository } from "../helpers/repository.js";

process.env.TENSORBIND_PYTHON = INTERPRETER;

// The package as an installed user would import it (dist/, npm run build).
const PACKAGE = join(ROOT, "dist/index.js");

describe("tensorbind-native entries beside Triton models in one repository", () => {
  it("serves model.py (@tensorbind.model), model.mjs (bind()) and a config.pbtxt model together", async () => {
    const repo = writeRepository({
      "doubler/model.py": `import numpy as np
import tensorbind

@tensorbind.model(name="doubler", inputs={"x": tensorbind.tensor("FP32", [-1])}, outputs={"y": tensorbind.tensor("FP32", [-1])})
def infer(x: np.ndarray) -> dict:
    return {"y": x * 2}
`,
      "negate/model.mjs": `import { bind, tensor } from ${JSON.stringify(PACKAGE)};
bind({
  name: "negate",
  inputs: { X: tensor("INT32", [-1]) },
  outputs: { Y: tensor("INT32", [-1]) },
  fn: ({ X }) => ({ Y: Int32Array.from(X.data, (v) => -v) }),
});
`,
      "misnamed/model.mjs": `import { bind, tensor } from ${JSON.stringify(PACKAGE)};
bind({ name: "other", inputs: { X: tensor("INT32", [1]) }, outputs: { Y: tensor("INT32", [1]) }, fn: ({ X }) => ({ Y: X }) });
`,
      "triton/config.pbtxt": `backend: "python"
input [ { name: "A" data_type: TYPE_INT32 dims: [ 1 ] } ]
output [ { name: "B" data_type: TYPE_INT32 dims: [ 1 ] } ]
`,
      "triton/1/model.py": `${PB_HEADER}
class TritonPythonModel:
    def execute(self, requests):
        return [pb_utils.InferenceResponse([pb_utils.Tensor("B", pb_utils.get_input_tensor_by_name(r, "A").as_numpy() + 1)]) for r in requests]
`,
    });
    const server = await serveRepository(repo);
    const infer = async (model: string, input: object) =>
      jsonOf(
        fetch(`${server.urls.http}/v2/models/${model}/infer`, {
          method: "POST",
          body: JSON.stringify({ inputs: [input] }),
        }),
      );
    try {
      expect(
        (await infer("doubler", { name: "x", datatype: "FP32", shape: [2], data: [1, 2.5] })).outputs[0].data,
      ).toEqual([2, 5]);
      expect(
        (await infer("negate", { name: "X", datatype: "INT32", shape: [2], data: [3, -4] })).outputs[0].data,
      ).toEqual([-3, 4]);
      expect(
        (await infer("triton", { name: "A", datatype: "INT32", shape: [1], data: [41] })).outputs[0].data,
      ).toEqual([42]);
      const index = await getJson(`${server.urls.http}/v2/repository/index`, { method: "POST" });
      const misnamed = index.find((e: { name: string }) => e.name === "misnamed");
      expect(misnamed.reason).toContain("binds 'other': in a repository, name it 'misnamed'");
      // A reload re-imports the module (a changed model.mjs is picked up).
      const res = await fetch(`${server.urls.http}/v2/repository/models/negate/load`, { method: "POST" });
      expect(res.status).toBe(200);
    } finally {
      await server.close();
      rmSync(repo, { recursive: true, force: true });
    }
  }, 90_000);
});
