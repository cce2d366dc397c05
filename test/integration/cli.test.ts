import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const BIN = join(import.meta.dirname, "../../bin/tensorbind.js");
const MODELS = join(import.meta.dirname, "../../examples/quickstart/models.ts");

async function waitFor(file: string, ms = 20_000): Promise<{ http: string; pid: number }> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (existsSync(file)) return JSON.parse(readFileSync(file, "utf8"));
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("server did not become ready");
}

describe("tensorbind CLI", () => {
  it("serves a TypeScript module with no build step, reports its port, and exits 0 on SIGTERM", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tb-cli-"));
    const ready = join(dir, "ready.json");
    const child = spawn(
      process.execPath,
      [
        BIN,
        "serve",
        MODELS,
        "--http-port",
        "0",
        "--grpc-port",
        "0",
        "--metrics-port",
        "0",
        "--ready-file",
        ready,
      ],
      {
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const info = await waitFor(ready);
    expect(info.http).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(info.pid).toBe(child.pid);
    const meta = await (await fetch(`${info.http}/v2/models/simple`)).json();
    expect(meta.name).toBe("simple");
    const health = await run(process.execPath, [BIN, "health", info.http]);
    expect(health.stdout).toMatch(/ready/);
    const exited = new Promise<number | null>((r) => child.on("exit", r));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(existsSync(ready)).toBe(false);
    expect(stderr).toMatch(/tensorbind is ready/);
  });

  // The bundling loader (esbuild) and the fallback (tsx) must load the same module the same way.
  it.each([
    ["bundled by esbuild", { TENSORBIND_TS_LOADER: "esbuild" }],
    ["through tsx", { TENSORBIND_TS_LOADER: "tsx" }],
  ])("serves a TypeScript module with local imports and import.meta.url, %s", async (_how, env) => {
    const dir = mkdtempSync(join(tmpdir(), "tb-cli-"));
    const ready = join(dir, "ready.json");
    const module = join(import.meta.dirname, "../fixtures/ts-module/models.ts");
    const child = spawn(
      process.execPath,
      [
        BIN,
        "serve",
        module,
        "--http-port",
        "0",
        "--allow-grpc",
        "false",
        "--allow-metrics",
        "false",
        "--ready-file",
        ready,
      ],
      { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ...env } },
    );
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    try {
      const info = await waitFor(ready);
      const res = await fetch(`${info.http}/v2/models/scale/infer`, {
        method: "POST",
        body: JSON.stringify({ inputs: [{ name: "X", datatype: "FP32", shape: [3], data: [1, 2, 3] }] }),
      });
      expect(res.status, stderr).toBe(200);
      expect((await res.json()).outputs[0].data).toEqual([3, 6, 9]); // factor 3 from factor.json
    } finally {
      const exited = new Promise<number | null>((r) => child.on("exit", r));
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    }
  });

  it("fails with a clear message for a missing module", async () => {
    await expect(run(process.execPath, [BIN, "serve", "nope.ts", "--http-port", "0"])).rejects.toMatchObject({
      stderr: expect.stringMatching(/no such file: nope\.ts/),
    });
  });

  it("reports an unreachable server from `health` with exit code 1", async () => {
    await expect(run(process.execPath, [BIN, "health", "http://127.0.0.1:1"])).rejects.toMatchObject({
      code: 1,
    });
  });

  it("prints its version", async () => {
    const { stdout } = await run(process.execPath, [BIN, "--version"]);
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
