// A Python-only user: `pip install tensorbind-*.whl` (built by scripts/build-wheel.sh) into a fresh
// venv, with no Node.js on PATH, gives a `tensorbind` command that serves a model.py; its workers
// import the installed `tensorbind` package, the only copy of the Python code in the wheel.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INTERPRETER, ROOT, spawnServer } from "../helpers/cli.js";

const BUILD_AND_INSTALL_MS = 900_000;

describe("the pip wheel", () => {
  const dir = mkdtempSync(join(tmpdir(), "tb-wheel-"));
  const venv = join(dir, "venv");
  let wheel = "";
  beforeAll(() => {
    execFileSync("bash", [join(ROOT, "scripts/build-wheel.sh"), join(dir, "out")], { stdio: "pipe" });
    wheel = join(dir, "out", readdirSync(join(dir, "out")).find((f) => f.endsWith(".whl"))!);
    execFileSync("python3", ["-m", "venv", venv]);
    execFileSync(join(venv, "bin/pip"), ["install", "--quiet", "--disable-pip-version-check", wheel], {
      stdio: "pipe",
    });
  }, BUILD_AND_INSTALL_MS);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("holds the server and one copy of the Python package", () => {
    const names = execFileSync(
      join(venv, "bin/python"),
      ["-c", "import sys, zipfile; print('\\n'.join(zipfile.ZipFile(sys.argv[1]).namelist()))", wheel],
      { encoding: "utf8" },
    ).split("\n");
    expect(names).toContain("tensorbind/_server/bin/tensorbind.js");
    expect(names).toContain("tensorbind/_server/native/shm/build/Release/tensorbind_shm.node");
    expect(names).toContain("tensorbind/worker.py");
    expect(names.filter((n) => n.endsWith("/worker.py"))).toEqual(["tensorbind/worker.py"]);
    expect(names.some((n) => n.startsWith("tensorbind/_server/python/"))).toBe(false);
    expect(names.some((n) => n.includes("/node_modules/vitest/"))).toBe(false); // no dev dependencies
  });

  it("serves model.py with `tensorbind serve` and no Node.js on PATH", async () => {
    const env = { HOME: dir, PATH: join(venv, "bin") }; // nothing else: no node, no python3 but the venv's
    expect(() => execFileSync("sh", ["-c", "command -v node"], { env })).toThrow();
    const model = join(ROOT, "test/fixtures/wheel-model/model.py");
    const ports = ["--http-port", "0", "--grpc-port", "0", "--metrics-port", "0"];
    // `tensorbind serve …` of the venv instead of `node bin/tensorbind.js serve …`
    const server = await spawnServer([model, ...ports], {
      env,
      timeoutMs: 60_000,
      wrap: (argv) => [join(venv, "bin/tensorbind"), ...argv.slice(2)],
    });
    try {
      const res = await fetch(`${server.info.http}/v2/models/wheel_check/infer`, {
        method: "POST",
        body: JSON.stringify({ inputs: [{ name: "X", datatype: "FP32", shape: [2], data: [1, 2] }] }),
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { outputs: { name: string; data: unknown[] }[] };
      expect(body.outputs.find((o) => o.name === "Y")!.data).toEqual([2, 3]);
      const pkg = body.outputs.find((o) => o.name === "PACKAGE")!.data[0] as string;
      expect(pkg.startsWith(join(venv, "lib"))).toBe(true); // the installed copy, in the venv
    } finally {
      // the command is the server (exec), so SIGTERM drains and exits 0
      expect(await server.stop("SIGTERM")).toBe(0);
    }
  }, 90_000);
});

describe("python -m tensorbind from a checkout (the package without the server)", () => {
  it("exits 2 with the fix in one line", () => {
    const r = spawnSync(INTERPRETER, ["-m", "tensorbind", "serve", "model.py"], {
      env: { ...process.env, PYTHONPATH: join(ROOT, "python") },
      encoding: "utf8",
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/has the Python package only, not the server.*scripts\/build-wheel\.sh/);
  });
});
