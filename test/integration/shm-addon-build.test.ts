import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { clientRegionAddon } from "../../src/shm/addon.js";

// The shm addon needs no CUDA to build: the default build carries the CUDA-region code (the
// runtime is loaded with dlopen, and here there is none), and TENSORBIND_SHM_CUDA=OFF leaves it out.
const out = mkdtempSync(join(tmpdir(), "tb-shm-build-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe("shm addon and CUDA", () => {
  it("reports no CUDA device (and why) where there is no GPU, without failing", () => {
    const addon = clientRegionAddon() as unknown as { cudaDevices(): { count: number; reason: string } };
    const { count, reason } = addon.cudaDevices();
    expect(count).toBe(0);
    expect(reason).toMatch(/CUDA runtime/);
  });

  it("builds with TENSORBIND_SHM_CUDA=OFF: the same system regions, no CUDA functions", async () => {
    await promisify(execFile)(
      process.execPath,
      [
        "node_modules/cmake-js/bin/cmake-js",
        "compile",
        "-d",
        "native/shm",
        "-O",
        out,
        "--CDTENSORBIND_SHM_CUDA=OFF",
      ],
      { timeout: 170_000 },
    );
    const built = createRequire(import.meta.url)(join(out, "Release/tensorbind_shm.node")) as Record<
      string,
      unknown
    >;
    expect(typeof built.openClientRegion).toBe("function");
    expect(built.cudaDevices).toBeUndefined();
  }, 180_000);
});
