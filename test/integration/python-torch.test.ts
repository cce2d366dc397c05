// examples/python-torch served on the CPU with framework "torch", checked against the same MLP
// computed with NumPy from the model's own weights. CI installs torch (WITH_TORCH=1) and this test
// must run there; a local run without torch skips it, saying why.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { INTERPRETER, infer, ROOT, spawnServer } from "../helpers/cli.js";

const EXAMPLE = join(ROOT, "examples/python-torch");
const probe = spawnSync(INTERPRETER, ["-c", "import torch"], { encoding: "utf8" });
const noTorch =
  probe.status === 0
    ? undefined
    : `'${INTERPRETER}' cannot import torch: ${probe.stderr.trim().split("\n").pop()}`;
if (noTorch !== undefined && process.env.CI) throw new Error(`CI must run the PyTorch test: ${noTorch}`);
if (noTorch !== undefined) console.warn(`skipping the PyTorch test: ${noTorch}`);

/** The example's MLP in NumPy, from the weights model.py builds (torch.manual_seed(0)). */
function numpyReference(x: number[][]): number[][] {
  const script = `
import json, sys
import numpy as np
sys.path.insert(0, ${JSON.stringify(EXAMPLE)})
import model
w = [t.detach().numpy() for t in model.MLP.parameters()]
x = np.array(json.loads(sys.argv[1]), dtype=np.float32)
h = np.maximum(x @ w[0].T + w[1], 0)
print(json.dumps((h @ w[2].T + w[3]).tolist()))
`;
  const r = spawnSync(INTERPRETER, ["-c", script, JSON.stringify(x)], {
    encoding: "utf8",
    env: { ...process.env, PYTHONPATH: join(ROOT, "python") },
  });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as number[][];
}

describe.skipIf(noTorch !== undefined)("python model with framework 'torch' on the CPU", () => {
  it("serves examples/python-torch and matches the NumPy computation", async () => {
    const x = [
      [1, 2, 3, 4, 5, 6, 7, 8],
      [-1, 0.5, 0, 2, -3, 1, 0, 0.25],
    ];
    const { TENSORBIND_DEVICE: _, ...env } = process.env;
    const server = await spawnServer(
      ["--http-port", "0", "--grpc-port", "0", "--metrics-port", "0", join(EXAMPLE, "models.ts")],
      { env: { ...env, TENSORBIND_PYTHON: INTERPRETER }, timeoutMs: 120_000 },
    );
    try {
      const res = await infer(server.info.http, "mlp", [
        { name: "x", datatype: "FP32", shape: [2, 8], data: x.flat() },
      ]);
      expect(res.status).toBe(200);
      const y = res.body.outputs[0];
      expect(y).toMatchObject({ name: "y", datatype: "FP32", shape: [2, 2] });
      const want = numpyReference(x).flat();
      for (const [i, v] of (y.data as number[]).entries()) expect(v).toBeCloseTo(want[i] as number, 4);
    } finally {
      expect(await server.stop("SIGTERM")).toBe(0);
    }
  }, 180_000);
});
