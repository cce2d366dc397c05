// PyTriton's trap, from a PyTriton user's model.py: `@batch` with max_batch_size > 0 and no
// `batcher=` must batch concurrent requests (as PyTriton users expect), not run one row per call.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { INTERPRETER, infer, spawnServer } from "../helpers/cli.js";

const DIR = mkdtempSync(join(tmpdir(), "tb-batchdefault-"));
afterAll(() => rmSync(DIR, { recursive: true, force: true }));

const MODEL = (extra: string) => `import time
import numpy as np
import tensorbind

@tensorbind.model(inputs={"x": ("FP32", [1])}, outputs={"rows": ("INT64", [1])}, max_batch_size=16${extra})
@tensorbind.batch
def rows(x):
    time.sleep(0.05)
    return {"rows": np.full((x.shape[0], 1), x.shape[0], dtype=np.int64)}
`;

/** 16 concurrent one-row requests: the row counts of the calls that served them. */
async function rowsPerCall(extra: string): Promise<number[]> {
  const path = join(DIR, `m${extra.length}.py`);
  writeFileSync(path, MODEL(extra));
  const srv = await spawnServer([
    path,
    "--python",
    INTERPRETER,
    "--http-port",
    "0",
    "--allow-grpc",
    "false",
    "--allow-metrics",
    "false",
  ]);
  try {
    const answers = await Promise.all(
      Array.from({ length: 16 }, () =>
        infer(srv.info.http, "rows", [{ name: "x", datatype: "FP32", shape: [1, 1], data: [1] }]),
      ),
    );
    for (const a of answers) expect(a.status).toBe(200);
    return answers.map((a) => a.body.outputs[0].data[0] as number);
  } finally {
    await srv.stop();
  }
}

describe("@tensorbind.batch with max_batch_size > 0", () => {
  it("batches concurrent requests by default (fewer calls than requests)", async () => {
    const rows = await rowsPerCall("");
    expect(Math.max(...rows)).toBeGreaterThan(1);
  }, 60_000);

  it("batcher=False keeps one request per call", async () => {
    const rows = await rowsPerCall(", batcher=False");
    expect(Math.max(...rows)).toBe(1);
  }, 60_000);
});
