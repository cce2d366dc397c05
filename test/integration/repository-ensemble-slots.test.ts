import { describe, expect, it } from "vitest";
import { INTERPRETER } from "../helpers/cli.js";
import { parseExposition, value } from "../helpers/prometheus.js";
import { PB_HEADER, servedRepository } from "../helpers/repository.js";
import { binaryBody, parseBinaryResponse } from "../helpers/server.js";

process.env.TENSORBIND_PYTHON = INTERPRETER;

const IDENTITY = `${PB_HEADER}
class TritonPythonModel:
    def execute(self, requests):
        return [pb_utils.InferenceResponse([pb_utils.Tensor("OUT",
            pb_utils.get_input_tensor_by_name(r, "IN").as_numpy() + 1)]) for r in requests]
`;
const config = (extra = "") => `backend: "python"
max_batch_size: 8
input [ { name: "IN" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUT" data_type: TYPE_FP32 dims: [ -1 ] } ]
${extra}`;
const FILES = {
  "step_a/config.pbtxt": config(),
  "step_a/1/model.py": IDENTITY,
  "step_b/config.pbtxt": config(),
  "step_b/1/model.py": IDENTITY,
  "chain/config.pbtxt": `platform: "ensemble"
max_batch_size: 8
input [ { name: "IN" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUT" data_type: TYPE_FP32 dims: [ -1 ] } ]
ensemble_scheduling { step [
  { model_name: "step_a" model_version: -1 input_map { key: "IN" value: "IN" } output_map { key: "OUT" value: "mid" } },
  { model_name: "step_b" model_version: -1 input_map { key: "IN" value: "mid" } output_map { key: "OUT" value: "OUT" } }
] }
`,
  "chain/1/.keep": "",
};

const ELEMENTS = 1 << 20; // 4 MiB of FP32 per tensor

async function infer(base: string, x: Float32Array): Promise<Float32Array> {
  const { body, headerLength } = binaryBody(
    {
      inputs: [
        {
          name: "IN",
          shape: [1, x.length],
          datatype: "FP32",
          parameters: { binary_data_size: x.byteLength },
        },
      ],
      outputs: [{ name: "OUT", parameters: { binary_data: true } }],
    },
    [new Uint8Array(x.buffer, x.byteOffset, x.byteLength)],
  );
  const res = await fetch(`${base}/v2/models/chain/infer`, {
    method: "POST",
    headers: { "Inference-Header-Content-Length": String(headerLength) },
    body,
  });
  expect(res.status).toBe(200);
  const answer = Buffer.from(await res.arrayBuffer());
  const raw = parseBinaryResponse(answer, Number(res.headers.get("inference-header-content-length"))).outputs
    .OUT!;
  return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
}

describe("an ensemble of Python models gives its steps' output slots back", () => {
  const served = servedRepository(FILES, { metrics: 0 });

  it("reuses the same warm slots request after request instead of growing the workers' arenas", async () => {
    const base = served.server.urls.http!;
    for (let i = 0; i < 12; i++) {
      const x = new Float32Array(ELEMENTS).fill(i);
      const y = await infer(base, x);
      expect(y.length).toBe(ELEMENTS);
      expect(y[0]).toBe(i + 2);
      expect(y[ELEMENTS - 1]).toBe(i + 2);
    }
    const metrics = parseExposition(await (await fetch(served.server.urls.metrics!)).text());
    // One request's slots per step (4 MiB in, 4 MiB out), not what the garbage collector left.
    for (const model of ["step_a", "step_b"]) {
      const bytes = value(metrics, "tensorbind_shared_memory_bytes", { model });
      expect(bytes, model).toBeLessThan(12 << 20); // 8 MiB measured; 20 MiB when the GC returned them
    }
  }, 120_000);
});
