// What a TypeScript user gets from the npm package: `npm pack` of a clean checkout (no dist/),
// installed into a fresh project, type-checked with strict tsc, and serving a JS and a Python model.
import { execFile, spawn } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { INTERPRETER, infer, ROOT } from "../helpers/cli.js";

const run = promisify(execFile);
const WORK = mkdtempSync(join(tmpdir(), "tb-pack-"));
afterAll(() => rmSync(WORK, { recursive: true, force: true }), 120_000);

/** The repository's files as a fresh clone has them: tracked and new, no build output. */
async function cleanCheckout(dest: string): Promise<void> {
  const { stdout } = await run("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
    cwd: ROOT,
    maxBuffer: 64 * 1024 * 1024,
  });
  for (const f of stdout.split("\0")) {
    if (f === "" || !existsSync(join(ROOT, f))) continue;
    mkdirSync(dirname(join(dest, f)), { recursive: true });
    cpSync(join(ROOT, f), join(dest, f));
  }
  // The dev tools prepack needs (tsc), as `npm ci` would have installed them.
  symlinkSync(join(ROOT, "node_modules"), join(dest, "node_modules"));
}

const MODELS_TS = `import { bind, python, tensor } from "tensorbind";

bind({
  name: "double",
  inputs: { x: tensor("FP32", [-1]) },
  outputs: { y: tensor("FP32", [-1]) },
  fn: ({ x }) => ({ y: x.data.map((v) => v * 2) }),
});
bind({ name: "pydouble", fn: python("model.py", "double") });
`;
const MODEL_PY = `import tensorbind

@tensorbind.model(inputs={"x": ("FP32", [-1])}, outputs={"y": ("FP32", [-1])})
def double(x):
    return {"y": x * 2}
`;
const TSCONFIG = {
  compilerOptions: {
    target: "ES2022",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    strict: true,
    noUncheckedIndexedAccess: true,
    exactOptionalPropertyTypes: true,
    noEmit: true,
    types: ["node"],
  },
  include: ["*.ts"],
};

describe("the npm package", () => {
  it("packs a clean checkout with dist/, installs into a fresh project, type-checks strictly, serves JS and Python", async () => {
    const repo = join(WORK, "repo");
    await cleanCheckout(repo);
    expect(existsSync(join(repo, "dist"))).toBe(false);
    const packed = await run("npm", ["pack", "--pack-destination", WORK], {
      cwd: repo,
      maxBuffer: 64 * 1024 * 1024,
    });
    const tgz = packed.stdout.trim().split("\n").at(-1)!;
    const { stdout: listing } = await run("tar", ["tzf", join(WORK, tgz)], { maxBuffer: 64 * 1024 * 1024 });
    expect(listing).toMatch(/^package\/dist\/index\.js$/m);
    expect(listing).toMatch(/^package\/dist\/index\.d\.ts$/m);

    const proj = join(WORK, "proj");
    mkdirSync(proj);
    writeFileSync(
      join(proj, "package.json"),
      JSON.stringify({ name: "proj", private: true, type: "module" }),
    );
    writeFileSync(join(proj, "tsconfig.json"), JSON.stringify(TSCONFIG));
    writeFileSync(join(proj, "models.ts"), MODELS_TS);
    writeFileSync(join(proj, "model.py"), MODEL_PY);
    await run(
      "npm",
      ["install", "--no-audit", "--no-fund", "--prefer-offline", join(WORK, tgz), "@types/node@20"],
      {
        cwd: proj,
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    expect(readdirSync(join(proj, "node_modules/tensorbind/dist")).length).toBeGreaterThan(0);
    // The install hook compiled the Python half's bytecode: workers do not compile it at every start.
    const pycache = join(proj, "node_modules/tensorbind/python/tensorbind/__pycache__");
    expect(existsSync(pycache) && readdirSync(pycache).some((f) => f.endsWith(".pyc"))).toBe(true);

    // Strict tsc against the installed declarations (the repository's own tsc, same version).
    const tsc = await run(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", proj]).then(
      () => "",
      (e: { stdout: string }) => e.stdout,
    );
    expect(tsc).toBe("");

    // `npx tensorbind serve models.ts`, as the user types it (the bin npm linked).
    const ready = join(proj, "ready.json");
    const child = spawn(
      join(proj, "node_modules/.bin/tensorbind"),
      [
        "serve",
        "models.ts",
        "--python",
        INTERPRETER,
        "--http-port",
        "0",
        "--grpc-port",
        "0",
        "--metrics-port",
        "0",
        "--ready-file",
        ready,
      ],
      { cwd: proj, stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    try {
      for (let i = 0; i < 600 && !existsSync(ready) && child.exitCode === null; i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(existsSync(ready), output).toBe(true);
      const { http } = JSON.parse(readFileSync(ready, "utf8")) as { http: string };
      for (const model of ["double", "pydouble"]) {
        const r = await infer(http, model, [{ name: "x", datatype: "FP32", shape: [2], data: [1, 2] }]);
        expect(r.status, JSON.stringify(r.body)).toBe(200);
        expect(r.body.outputs[0].data).toEqual([2, 4]);
      }
    } finally {
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    }
  }, 600_000);
});
