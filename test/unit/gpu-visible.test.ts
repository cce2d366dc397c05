import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/core/logger.js";
import { GpuPoller, parseNvidiaSmiCsv, visibleGpus } from "../../src/metrics/gpu.js";
import { fakeNvidiaSmi } from "../helpers/nvidia-smi.js";

const dir = mkdtempSync(join(tmpdir(), "tb-gpus-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ROWS = [0, 1, 2, 3].map(
  (i) => `${i}, GPU-${i}${i}${i}${i}aaaa-0000, NVIDIA H100, ${10 * i}, 81559, 1024, 70.0, 700.0`,
);
const FOUR = parseNvidiaSmiCsv(ROWS.join("\n"));
const uuids = (gpus: readonly { uuid: string }[]) => gpus.map((g) => g.uuid);

describe("GPUs visible to the server (CUDA_VISIBLE_DEVICES)", () => {
  it("are all GPUs when unset, none when empty", () => {
    expect(visibleGpus(FOUR, undefined)).toHaveLength(4);
    expect(visibleGpus(FOUR, "")).toEqual([]);
  });

  it("are the listed indices or UUID prefixes, in CUDA's order, up to the first unknown entry", () => {
    expect(uuids(visibleGpus(FOUR, "2,0"))).toEqual(["GPU-2222aaaa-0000", "GPU-0000aaaa-0000"]);
    expect(uuids(visibleGpus(FOUR, "GPU-3333,1111aaaa"))).toEqual(["GPU-3333aaaa-0000", "GPU-1111aaaa-0000"]);
    expect(uuids(visibleGpus(FOUR, "1,7,2"))).toEqual(["GPU-1111aaaa-0000"]);
    expect(visibleGpus(FOUR, "MIG-abcd")).toHaveLength(4);
  });

  it("limit what the poller reports, one sample per visible GPU labelled by UUID", async () => {
    const command = fakeNvidiaSmi(
      dir,
      ROWS.map((r) => `echo "${r}"`),
    );
    const all = new GpuPoller({ command, log: silentLogger, timeoutMs: 5000, cudaVisibleDevices: undefined });
    await all.poll();
    expect(uuids(all.gpus)).toEqual(uuids(FOUR));
    const two = new GpuPoller({ command, log: silentLogger, timeoutMs: 5000, cudaVisibleDevices: "1,3" });
    await two.poll();
    expect(two.gpus.map((g) => [g.uuid, g.utilization])).toEqual([
      ["GPU-1111aaaa-0000", 0.1],
      ["GPU-3333aaaa-0000", 0.3],
    ]);
    all.stop();
    two.stop();
  });
});
