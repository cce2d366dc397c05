import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { executionEnvironment } from "../../src/repository/python-env.js";

// A packed environment is hashed, untarred and conda-unpacked while the model loads — possibly
// through the repository API while other models serve. Until 2026-12-07 all of it ran
// synchronously and the server answered nothing meanwhile; now the event loop keeps turning.

describe("unpacking a packed EXECUTION_ENV_PATH environment", () => {
  const tmp = mkdtempSync(join(tmpdir(), "tb-env-async-"));
  afterAll(() => {
    delete process.env.TENSORBIND_ENV_CACHE;
    rmSync(tmp, { recursive: true, force: true });
  });

  it("does not block the event loop while it hashes and unpacks", async () => {
    const env = join(tmp, "env");
    mkdirSync(join(env, "bin"), { recursive: true });
    mkdirSync(join(env, "lib"));
    symlinkSync(process.execPath, join(env, "bin", "python")); // any executable: not run here
    writeFileSync(join(env, "lib", "payload"), randomBytes(24 << 20)); // incompressible: real work
    const modelDir = join(tmp, "model");
    mkdirSync(modelDir);
    execFileSync("tar", ["-czf", join(modelDir, "env.tar.gz"), "-C", env, "."]);
    process.env.TENSORBIND_ENV_CACHE = join(tmp, "cache");

    let ticks = 0;
    const timer = setInterval(() => ticks++, 2);
    const t0 = performance.now();
    const got = await executionEnvironment("$$TRITON_MODEL_DIRECTORY/env.tar.gz", modelDir, "config.pbtxt");
    const ms = performance.now() - t0;
    clearInterval(timer);

    expect(got.interpreter).toMatch(/cache\/[0-9a-f]{32}\/bin\/python$/);
    // A 2 ms timer kept firing through the unpack (it could not fire once while it was synchronous).
    expect(ms).toBeGreaterThan(20);
    expect(ticks).toBeGreaterThanOrEqual(Math.min(10, ms / 20));
  }, 60_000);
});
