// The README's first command on a fresh clone: `npm run demo` installs only what serving needs,
// says what it is doing, and serves the JS, Python and C++ examples. It prints how long it took
// (recorded in docs/PERFORMANCE.md: "The demo on a fresh clone").
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { infer, ROOT } from "../helpers/cli.js";

const run = promisify(execFile);
const WORK = mkdtempSync(join(tmpdir(), "tb-demo-"));
afterAll(() => rmSync(WORK, { recursive: true, force: true }), 120_000);

describe("npm run demo on a fresh clone", () => {
  it("serves the examples, shows its steps, and installs no test tools", async () => {
    const clone = join(WORK, "clone");
    await run("git", ["clone", "--quiet", ROOT, clone]);
    const ready = join(WORK, "ready.json");
    const start = Date.now();
    const { TENSORBIND_PYTHON: _, ...env } = process.env;
    // biome-ignore format: the command line as a user types it
    const child = spawn("npm", ["run", "demo", "--", "--http-port", "0", "--grpc-port", "0", "--metrics-port", "0", "--ready-file", ready], {
      cwd: clone,
      env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true, // its own process group: npm does not forward signals to the server
    });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const exited = new Promise<void>((r) => child.on("exit", () => r()));
    try {
      while (!existsSync(ready) && child.exitCode === null) await new Promise((r) => setTimeout(r, 200));
      const seconds = (Date.now() - start) / 1000;
      console.log(`npm run demo on a fresh clone: serving after ${seconds.toFixed(0)} s`);
      expect(existsSync(ready), output).toBe(true);
      expect(output).toMatch(/demo: \[1\/5\] npm packages/);
      expect(output).toMatch(/demo: \[4\/5\] Python venv/);
      const { http } = JSON.parse(readFileSync(ready, "utf8")) as { http: string };
      const models = (await (await fetch(`${http}/v2/repository/index`, { method: "POST" })).json()) as {
        name: string;
        state: string;
      }[];
      expect(models.filter((m) => m.state === "READY").length).toBe(models.length);
      const simple = await infer(http, "simple", [
        { name: "INPUT0", datatype: "INT32", shape: [1, 16], data: Array(16).fill(1) },
        { name: "INPUT1", datatype: "INT32", shape: [1, 16], data: Array(16).fill(2) },
      ]);
      expect(simple.status).toBe(200);
      // Serving needs none of the test tools.
      const py = join(clone, ".venv/bin/python");
      const tools = await run(py, [
        "-c",
        "import importlib.util as u; print([m for m in ('tritonclient', 'pytest', 'torch') if u.find_spec(m)])",
      ]);
      expect(tools.stdout.trim()).toBe("[]");
      expect(existsSync(join(clone, ".tools/perf-analyzer"))).toBe(false);
    } finally {
      if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, "SIGTERM");
      await exited;
    }
  }, 600_000);
});
