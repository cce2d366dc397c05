import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Server } from "../../src/server.js";
import { INTERPRETER } from "../helpers/cli.js";
import { getJson, jsonOf } from "../helpers/json.js";
import { PB_HEADER, serveRepository, writeRepository } from "../helpers/repository.js";

// Per-model Python environments (Triton's EXECUTION_ENV_PATH): a real second virtual environment
// made here, used as a directory and packed as a .tar.gz the server unpacks into its cache.

const WHICH = `${PB_HEADER}
import os, sys
class TritonPythonModel:
    def execute(self, requests):
        exe = np.array([sys.executable.encode(), os.environ["PATH"].split(":")[0].encode()], dtype=np.object_)
        return [pb_utils.InferenceResponse([pb_utils.Tensor("EXE", exe)]) for _ in requests]
`;
const config = (envPath: string) => `backend: "python"
input [ { name: "X" data_type: TYPE_INT32 dims: [ 1 ] } ]
output [ { name: "EXE" data_type: TYPE_STRING dims: [ 2 ] } ]
parameters { key: "EXECUTION_ENV_PATH" value: { string_value: "${envPath}" } }
`;

describe("EXECUTION_ENV_PATH: a repository model's own Python environment", () => {
  let tmp: string;
  let venv: string;
  let cache: string;
  let stale: string;
  let busy: string;
  let repo: string;
  let server: Server;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), "tb-env-"));
    venv = join(tmp, "venv");
    cache = join(tmp, "cache");
    execFileSync(INTERPRETER, ["-m", "venv", "--system-site-packages", "--without-pip", venv]);
    // The project's packages (numpy, pyzmq) for the new environment: a .pth naming their directory.
    const found = execFileSync(INTERPRETER, [
      "-c",
      "import numpy, os, sysconfig; print(os.path.dirname(os.path.dirname(numpy.__file__))); print(sysconfig.get_path('purelib', vars={'base': '" +
        venv +
        "'}))",
    ])
      .toString()
      .trim()
      .split("\n");
    writeFileSync(join(found[1]!, "project.pth"), `${found[0]}\n`);
    repo = writeRepository({
      "in_dir/config.pbtxt": config(venv),
      "in_dir/1/model.py": WHICH,
      "packed/config.pbtxt": config("$$TRITON_MODEL_DIRECTORY/env.tar.gz"),
      "packed/1/model.py": WHICH,
      "missing/config.pbtxt": config("$$TRITON_MODEL_DIRECTORY/nowhere"),
      "missing/1/model.py": WHICH,
      "waits/config.pbtxt": config("$$TRITON_MODEL_DIRECTORY/env.tgz"),
      "waits/1/model.py": WHICH,
      "not_env/config.pbtxt": config(tmp),
      "not_env/1/model.py": WHICH,
    });
    execFileSync("tar", ["-czf", join(repo, "packed", "env.tar.gz"), "-C", venv, "."]);
    // A crashed earlier attempt left the archive's cache directory without its ready marker.
    const key = createHash("sha256")
      .update(readFileSync(join(repo, "packed", "env.tar.gz")))
      .digest("hex");
    stale = join(cache, key.slice(0, 32));
    mkdirSync(join(stale, "bin"), { recursive: true });
    writeFileSync(join(stale, "half-written"), "");
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(stale, hourAgo, hourAgo);
    // Another archive that "another server" is unpacking right now (no marker yet, fresh): the
    // load waits for its marker rather than unpacking it again.
    writeFileSync(join(venv, "variant"), "2");
    execFileSync("tar", ["-czf", join(repo, "waits", "env.tgz"), "-C", venv, "."]);
    const key2 = createHash("sha256")
      .update(readFileSync(join(repo, "waits", "env.tgz")))
      .digest("hex");
    busy = join(cache, key2.slice(0, 32));
    execFileSync("cp", ["-a", venv, busy]);
    spawn("sh", ["-c", `sleep 1 && touch ${busy}/.tensorbind-ready`], { stdio: "ignore" });
    process.env.TENSORBIND_ENV_CACHE = cache;
    server = await serveRepository(repo);
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    delete process.env.TENSORBIND_ENV_CACHE;
    rmSync(tmp, { recursive: true, force: true });
    rmSync(repo, { recursive: true, force: true });
  });

  async function which(model: string): Promise<[string, string]> {
    const res = await fetch(`${server.urls.http}/v2/models/${model}/infer`, {
      method: "POST",
      body: JSON.stringify({ inputs: [{ name: "X", datatype: "INT32", shape: [1], data: [0] }] }),
    });
    const body = await jsonOf(res);
    expect(res.status).toBe(200);
    return body.outputs[0].data as [string, string];
  }

  it("runs a model under a virtual environment directory (its bin/python, its bin first on PATH)", async () => {
    expect(await which("in_dir")).toEqual([join(venv, "bin", "python"), join(venv, "bin")]);
  });

  it("unpacks a packed environment once into a cache keyed by its content, and runs the model under it", async () => {
    const [exe, path0] = await which("packed");
    const entries = readdirSync(cache).filter((e) => join(cache, e) !== busy);
    expect(entries).toHaveLength(1);
    const unpacked = join(cache, entries[0]!);
    expect(unpacked).toBe(stale); // the crashed attempt's directory was replaced
    expect(existsSync(join(unpacked, "half-written"))).toBe(false);
    expect(exe).toBe(join(unpacked, "bin", "python"));
    expect(path0).toBe(join(unpacked, "bin"));
    const marker = join(unpacked, ".tensorbind-ready");
    const first = statSync(marker).mtimeMs;
    // A reload finds it unpacked: the same directory, not unpacked again.
    const load = await fetch(`${server.urls.http}/v2/repository/models/packed/load`, { method: "POST" });
    expect(load.status).toBe(200);
    expect(await which("packed")).toEqual([exe, path0]);
    expect(statSync(marker).mtimeMs).toBe(first);
    expect(readdirSync(cache)).toHaveLength(2); // this archive's and the other server's
  }, 60_000);

  it("waits for another server's unpacking of the same archive instead of redoing it", async () => {
    const [exe] = await which("waits");
    expect(exe).toBe(join(busy, "bin", "python"));
    expect(readFileSync(join(busy, ".tensorbind-ready"), "utf8")).toBe(""); // the other one's marker
  });

  it("refuses to load a model whose environment is missing or has no python, naming the path", async () => {
    const index: { name: string; state: string; reason: string }[] = await getJson(
      `${server.urls.http}/v2/repository/index`,
      { method: "POST", body: "{}" },
    );
    const byName = Object.fromEntries(index.map((e) => [e.name, e]));
    expect(byName.missing!.state).toBe("UNAVAILABLE");
    expect(byName.missing!.reason).toContain(
      `EXECUTION_ENV_PATH '$$TRITON_MODEL_DIRECTORY/nowhere': ${join(repo, "missing", "nowhere")} does not exist`,
    );
    expect(byName.not_env!.reason).toContain(`${tmp} is not a Python environment (it has no bin/python)`);
    expect(byName.in_dir!.state).toBe("READY");
    expect(existsSync(join(venv, "bin", "python"))).toBe(true);
  });
});
