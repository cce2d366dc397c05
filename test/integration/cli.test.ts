import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { BIN, ROOT, spawnServer } from "../helpers/cli.js";
import { getJson, jsonOf } from "../helpers/json.js";

const run = promisify(execFile);
const MODELS = join(ROOT, "examples/quickstart/models.ts");

describe("tensorbind CLI", () => {
  it("serves a TypeScript module with no build step, reports its port, and exits 0 on SIGTERM", async () => {
    const srv = await spawnServer([MODELS, "--http-port", "0", "--grpc-port", "0", "--metrics-port", "0"]);
    try {
      const { info } = srv;
      expect(info.http).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(info.pid).toBe(srv.child.pid);
      const meta = await getJson(`${info.http}/v2/models/simple`);
      expect(meta.name).toBe("simple");
      const health = await run(process.execPath, [BIN, "health", info.http]);
      expect(health.stdout).toMatch(/ready/);
      srv.child.kill("SIGTERM");
      expect(await srv.exited).toBe(0);
      expect(existsSync(join(srv.dir, "ready.json"))).toBe(false); // the server removed it
      expect(srv.output()).toMatch(/tensorbind is ready/);
    } finally {
      await srv.stop();
    }
  });

  // The bundling loader (esbuild) and the fallback (tsx) must load the same module the same way.
  it.each([
    ["bundled by esbuild", { TENSORBIND_TS_LOADER: "esbuild" }],
    ["through tsx", { TENSORBIND_TS_LOADER: "tsx" }],
  ])("serves a TypeScript module with local imports and import.meta.url, %s", async (_how, env) => {
    const module = join(import.meta.dirname, "../fixtures/ts-module/models.ts");
    const srv = await spawnServer(
      [module, "--http-port", "0", "--allow-grpc", "false", "--allow-metrics", "false"],
      { env: { ...process.env, ...env } },
    );
    try {
      const res = await fetch(`${srv.info.http}/v2/models/scale/infer`, {
        method: "POST",
        body: JSON.stringify({ inputs: [{ name: "X", datatype: "FP32", shape: [3], data: [1, 2, 3] }] }),
      });
      expect(res.status, srv.output()).toBe(200);
      expect((await jsonOf(res)).outputs[0].data).toEqual([3, 6, 9]); // factor 3 from factor.json
    } finally {
      expect(await srv.stop()).toBe(0);
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
