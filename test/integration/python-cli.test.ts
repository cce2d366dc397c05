import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { BIN, INTERPRETER, infer, ROOT, spawnServer } from "../helpers/cli.js";
import { getJson } from "../helpers/json.js";

const run = promisify(execFile);
const FIXTURES = join(ROOT, "python/tests/fixtures");
const PORTS = ["--http-port", "0", "--grpc-port", "0", "--metrics-port", "0"];

describe("tensorbind serve model.py", () => {
  it("serves every @tensorbind.model function of the file under its decorator name", async () => {
    // No TENSORBIND_PYTHON in the environment: --python alone picks the interpreter.
    const { TENSORBIND_PYTHON: _, ...env } = process.env;
    const server = await spawnServer([join(FIXTURES, "served.py"), "--python", INTERPRETER, ...PORTS], {
      env,
    });
    try {
      const { http } = server.info;
      const index = await getJson(`${http}/v2/repository/index`, { method: "POST" });
      expect(index.map((m: { name: string }) => m.name).sort()).toEqual(["doubler", "negate"]);
      const meta = await getJson(`${http}/v2/models/negate`);
      expect(meta.inputs).toEqual([{ name: "x", datatype: "INT32", shape: [-1, -1] }]);

      const doubled = await infer(http, "doubler", [
        { name: "x", datatype: "FP32", shape: [3], data: [1, 2.5, -4] },
      ]);
      expect(doubled.status).toBe(200);
      expect(doubled.body.outputs[0]).toMatchObject({
        name: "y",
        datatype: "FP32",
        shape: [3],
        data: [2, 5, -8],
      });
      const negated = await infer(http, "negate", [
        { name: "x", datatype: "INT32", shape: [2, 2], data: [1, 2, 3, 4] },
      ]);
      expect(negated.body.outputs[0]).toMatchObject({ shape: [2, 2], data: [-1, -2, -3, -4] });
      expect(server.output()).toMatch(/imported served\.py/);
    } finally {
      expect(await server.stop("SIGTERM")).toBe(0);
    }
  }, 60_000);

  it("fails with a clear message for a file that declares no model", async () => {
    const err = await run(process.execPath, [
      BIN,
      "serve",
      join(FIXTURES, "no_models.py"),
      "--python",
      INTERPRETER,
      ...PORTS,
    ]).catch((e) => e);
    expect(err.code).toBe(1);
    expect(err.stderr).toMatch(
      /no_models\.py declares no model: decorate a function with @tensorbind\.model/,
    );
  }, 30_000);

  it("names the missing module and its fix in one line; the traceback only at debug level", async () => {
    const args = [BIN, "serve", join(FIXTURES, "import_error.py"), "--python", INTERPRETER, ...PORTS];
    const err = await run(process.execPath, args).catch((e) => e);
    expect(err.code).toBe(1);
    expect(err.stderr.trim().split("\n")).toHaveLength(1);
    expect(err.stderr).toMatch(
      /import_error\.py: '.*' has no module 'tensorbind_no_such_module': run `.* -m pip install tensorbind_no_such_module`/,
    );
    const debug = await run(process.execPath, [...args, "--log-level", "debug"]).catch((e) => e);
    expect(debug.stderr).toMatch(/Traceback \(most recent call last\)/);
    expect(debug.stderr).toMatch(/ModuleNotFoundError: No module named 'tensorbind_no_such_module'/);
  }, 30_000);

  it("names an interpreter that cannot run", async () => {
    const err = await run(process.execPath, [
      BIN,
      "serve",
      join(FIXTURES, "served.py"),
      "--python",
      "/nonexistent/python",
      ...PORTS,
    ]).catch((e) => e);
    expect(err.stderr).toMatch(/cannot run interpreter '\/nonexistent\/python'/);
  }, 30_000);
});
