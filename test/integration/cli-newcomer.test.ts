// A newcomer's first mistakes, each run through the real CLI: every one ends in one line that
// says what is wrong and how to fix it (the details at debug level), never a server that says
// ready and then fails every request.
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { BIN, INTERPRETER, infer, ROOT, spawnServer } from "../helpers/cli.js";

const run = promisify(execFile);
const PORTS = ["--http-port", "0", "--grpc-port", "0", "--metrics-port", "0"];
// A folder outside the repository, with no node_modules: where a user keeps a model.
const DIR = mkdtempSync(join(tmpdir(), "tb-newcomer-"));
afterAll(() => rmSync(DIR, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(DIR, name);
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, text);
  return path;
}

/** Runs `tensorbind …`, expecting it to fail: its exit code and stderr. */
async function fails(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stderr: string }> {
  const r = await run(process.execPath, [BIN, ...args], {
    cwd: DIR,
    env: { ...process.env, TENSORBIND_PYTHON: INTERPRETER, ...env },
    timeout: 60_000,
  }).then(
    (ok) => ({ code: 0, stderr: ok.stderr }),
    (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
  );
  expect(r.code).not.toBe(0);
  return r;
}

const oneLine = (stderr: string) => expect(stderr.trim().split("\n")).toHaveLength(1);

const TS_MODEL = `import { bind, tensor } from "tensorbind";
bind({
  name: "double",
  inputs: { x: tensor("FP32", [-1]) },
  outputs: { y: tensor("FP32", [-1]) },
  fn: ({ x }) => ({ y: x.data.map((v) => v * 2) }),
});
`;
const PY_MODEL = (name: string, extra = "") => `import tensorbind

@tensorbind.model(inputs={"x": ("FP32", [-1])}, outputs={"y": ("FP32", [-1])}, name="${name}"${extra})
def f(x):
    return {"y": x * 2}
`;

describe("a TypeScript model outside the repository", () => {
  it("imports 'tensorbind' from the CLI that runs it (nothing installed next to it)", async () => {
    const srv = await spawnServer([file("ts/model.ts", TS_MODEL), ...PORTS]);
    try {
      const r = await infer(srv.info.http, "double", [
        { name: "x", datatype: "FP32", shape: [2], data: [1, 2] },
      ]);
      expect(r.body.outputs[0].data).toEqual([2, 4]);
    } finally {
      await srv.stop();
    }
  });

  it("names a package that does not resolve, where, and the fix", async () => {
    const path = file(
      "ts/needs-pkg.ts",
      `import { bind } from "tensorbind";\nimport left from "left-pad-nope";\nconsole.log(bind, left);\n`,
    );
    const r = await fails(["serve", path, ...PORTS]);
    oneLine(r.stderr);
    expect(r.stderr).toMatch(
      /needs-pkg\.ts:2:\d+: cannot resolve "left-pad-nope": run `npm install left-pad-nope`/,
    );
  });

  it("shows file, line and column of a syntax error", async () => {
    const r = await fails(["serve", file("ts/syntax.ts", "const x: number = ;\n"), ...PORTS]);
    oneLine(r.stderr);
    expect(r.stderr).toMatch(/syntax\.ts:1:19: Unexpected ";"/);
  });
});

describe("Python start-up failures", () => {
  it("a missing numpy: one line with the pip command; the traceback at debug level", async () => {
    file(
      "no_numpy/numpy/__init__.py",
      `raise ModuleNotFoundError("No module named 'numpy'", name="numpy")\n`,
    );
    const env = { PYTHONPATH: join(DIR, "no_numpy") };
    const args = ["serve", file("py/model.py", PY_MODEL("m")), ...PORTS];
    const r = await fails(args, env);
    oneLine(r.stderr);
    expect(r.stderr).toMatch(
      /model\.py: '.*' has no module 'numpy': run `.* -m pip install numpy pyzmq pyarrow`, or pass --python/,
    );
    const debug = await fails([...args, "--log-level", "debug"], env);
    expect(debug.stderr).toMatch(/Traceback \(most recent call last\)/);
  });

  it("a missing pyzmq (found when the worker starts): one line with the pip command", async () => {
    const env = { PYTHONPATH: join(ROOT, "python/tests/fixtures/no_zmq") };
    const r = await fails(["serve", file("py/model.py", PY_MODEL("m")), ...PORTS], env);
    oneLine(r.stderr);
    expect(r.stderr).toMatch(/has no module 'zmq': run `.* -m pip install numpy pyzmq pyarrow`/);
  });

  it("device without framework='torch': one line with the fix", async () => {
    const r = await fails(["serve", file("py/dev.py", PY_MODEL("m", ', device="cuda:0"')), ...PORTS]);
    oneLine(r.stderr);
    expect(r.stderr).toMatch(/device='cuda:0' needs framework='torch'.*framework='torch', device='cuda:0'/);
  });

  it("cuda:0 on a machine whose torch sees no GPU fails at load, not at the first request", async () => {
    const path = file("py/gpu.py", PY_MODEL("m", ', framework="torch", device="cuda:0"'));
    const r = await fails(["serve", path, ...PORTS]);
    oneLine(r.stderr);
    expect(r.stderr).toMatch(/device 'cuda:0' asked, but torch cannot use CUDA here/);
    expect(r.stderr).not.toMatch(/is ready/);
  }, 60_000);

  it("a returned output name that is not declared is named", async () => {
    const path = file("py/stray.py", PY_MODEL("m").replace('{"y": x * 2}', '{"z": x * 2}'));
    const srv = await spawnServer([path, ...PORTS], {
      env: { ...process.env, TENSORBIND_PYTHON: INTERPRETER },
    });
    try {
      const r = await infer(srv.info.http, "m", [{ name: "x", datatype: "FP32", shape: [1], data: [1] }]);
      expect(r.status).toBe(500);
      expect(r.body.error).toMatch(
        /did not return output\(s\) \['y'\]; it returned \['z'\], which the model does not declare/,
      );
    } finally {
      await srv.stop();
    }
  }, 60_000);
});

describe("CLI mistakes", () => {
  it("a model name bound twice names both files", async () => {
    const a = file("clash/a.ts", TS_MODEL);
    const b = file("clash/b.py", PY_MODEL("double"));
    const r = await fails(["serve", a, b, ...PORTS]);
    oneLine(r.stderr);
    expect(r.stderr).toMatch(/model 'double' is bound by both .*a\.ts and .*b\.py/);
  });

  it("--port suggests --http-port; a typo its closest flag", async () => {
    const r = await fails(["serve", "m.ts", "--port", "8000"]);
    oneLine(r.stderr);
    expect(r.stderr).toMatch(/unknown option '--port' \(did you mean --http-port\?\)/);
    expect((await fails(["serve", "m.ts", "--grcp-port", "1"])).stderr).toMatch(/did you mean --grpc-port\?/);
  });

  it("an unknown subcommand prints one line that points at --help", async () => {
    const r = await fails(["model.py"]);
    oneLine(r.stderr);
    expect(r.stderr).toMatch(
      /unknown command 'model\.py' \(did you mean 'tensorbind serve model\.py'\?\).*--help/,
    );
  });

  it("a gRPC port in use: our one line, no stray grpc-js line", async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const r = await fails([
        "serve",
        file("ts/model.ts", TS_MODEL),
        "--http-port",
        "0",
        "--metrics-port",
        "0",
        "--grpc-port",
        String(port),
      ]);
      expect(r.stderr).not.toMatch(/No address added/);
      expect(r.stderr).toMatch(
        /gRPC port \d+ on 127\.0\.0\.1 is already in use; choose another with --grpc-port/,
      );
    } finally {
      blocker.close();
    }
  });

  it("a temp folder it cannot write suggests --runtime-dir", async () => {
    const r = await fails(["serve", file("ts/model.ts", TS_MODEL), ...PORTS], {
      TMPDIR: "/proc/tb-no-such-dir",
    });
    oneLine(r.stderr);
    expect(r.stderr).toMatch(/cannot create the runtime directory in \/proc\/tb-no-such-dir .*--runtime-dir/);
  });
});
