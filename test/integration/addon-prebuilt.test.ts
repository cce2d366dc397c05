// The shared-memory addon ships prebuilt for linux-x64 and linux-arm64 (scripts/prebuild-addon.sh,
// run by CI and `npm pack`): an install that cannot compile loads the prebuilt binary, and one
// with no usable addon at all refuses to start a Python model, saying how to fix it in one line.
import { cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { INTERPRETER, ROOT, spawnServer } from "../helpers/cli.js";

const PREBUILDS = join(ROOT, "native/shm/prebuilds");
const MODEL = join(ROOT, "test/fixtures/image-models/model.py");

/** The ELF header's machine field: 62 = x86-64, 183 = AArch64. */
function elfMachine(path: string): number {
  const header = Buffer.alloc(20);
  const fd = openSync(path, "r");
  readSync(fd, header, 0, 20, 0);
  expect(header.subarray(0, 4).toString("latin1")).toBe("\x7fELF");
  return header.readUInt16LE(18);
}

/** A copy of the installed package without native/shm/build — what `npm install` leaves without a compiler. */
function packageWithout(dir: string, prebuilds: boolean): string {
  const pkg = join(dir, prebuilds ? "with-prebuilds" : "without-addon");
  mkdirSync(join(pkg, "native/shm"), { recursive: true });
  for (const name of ["package.json", "bin", "dist"])
    cpSync(join(ROOT, name), join(pkg, name), { recursive: true });
  for (const name of ["node_modules", "python", "src"]) symlinkSync(join(ROOT, name), join(pkg, name));
  if (prebuilds) cpSync(PREBUILDS, join(pkg, "native/shm/prebuilds"), { recursive: true });
  return pkg;
}

/** `node <pkg>/bin/tensorbind.js serve model.py`: the server of that package copy. */
function serve(pkg: string) {
  const args = [
    MODEL,
    "--python",
    INTERPRETER,
    "--http-port",
    "0",
    "--grpc-port",
    "0",
    "--metrics-port",
    "0",
  ];
  return spawnServer(args, {
    timeoutMs: 60_000,
    wrap: (argv) => [argv[0]!, join(pkg, "bin/tensorbind.js"), ...argv.slice(2)],
  });
}

describe("the prebuilt shared-memory addon", () => {
  const dir = mkdtempSync(join(tmpdir(), "tb-prebuilt-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("exists for linux-x64 and linux-arm64, each for its machine", () => {
    const x64 = join(PREBUILDS, "linux-x64/tensorbind_shm.napi.glibc.node");
    const arm64 = join(PREBUILDS, "linux-arm64/tensorbind_shm.napi.glibc.node");
    expect(existsSync(x64) && existsSync(arm64), "CI runs scripts/prebuild-addon.sh").toBe(true);
    expect(elfMachine(x64)).toBe(62);
    expect(elfMachine(arm64)).toBe(183);
  });

  it("serves a Python model from an install that could not compile the addon", async () => {
    const server = await serve(packageWithout(dir, true));
    try {
      const res = await fetch(`${server.info.http}/v2/models/py_square/infer`, {
        method: "POST",
        body: JSON.stringify({ inputs: [{ name: "X", datatype: "FP32", shape: [2], data: [3, 4] }] }),
      });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { outputs: { data: number[] }[] }).outputs[0]!.data).toEqual([9, 16]);
    } finally {
      expect(await server.stop("SIGTERM")).toBe(0);
    }
  }, 90_000);

  it("refuses to start a Python model when no addon loads, with the fix in one line", async () => {
    // It exits without ever writing its ready file; spawnServer reports that with the output.
    await expect(serve(packageWithout(dir, false))).rejects.toThrow(
      /did not become ready \(it exited\)[\s\S]*shared-memory addon \(native\/shm\) did not load.*npm rebuild tensorbind/,
    );
  }, 60_000);
});
