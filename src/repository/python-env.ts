import { createHash, randomBytes } from "node:crypto";
import {
  createReadStream,
  existsSync,
  mkdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { execa } from "execa";
import { ConfigError } from "../core/errors.js";

/** A model's own Python: the interpreter its workers run, and the variables that activate its environment. */
export interface PythonEnvironment {
  readonly interpreter: string;
  readonly env: Readonly<Record<string, string>>;
}

const ARCHIVE = /\.(tar\.gz|tgz|tar)$/;
const READY = ".tensorbind-ready";

/**
 * Triton's `EXECUTION_ENV_PATH` parameter: `$$TRITON_MODEL_DIRECTORY` is the model directory, a
 * relative path is taken from it. It names a packed environment (conda-pack's `.tar.gz`, or any
 * tar of an environment with `bin/python`), unpacked once into a cache keyed by the archive's
 * content; a directory that is an environment (a venv or conda prefix: its `bin/python`); or an
 * interpreter. Workers of an environment directory get its `bin` first on PATH and its `lib` on
 * LD_LIBRARY_PATH, as Triton's `bin/activate` gives them.
 *
 * Asynchronous throughout: a model loaded through the repository API while others serve may
 * unpack a packed environment of gigabytes (hash, tar, conda-unpack) — the server's event loop
 * keeps answering the other models meanwhile.
 */
export async function executionEnvironment(
  given: string,
  modelDir: string,
  file: string,
): Promise<PythonEnvironment> {
  const substituted = given.replaceAll("$$TRITON_MODEL_DIRECTORY", modelDir);
  const path = isAbsolute(substituted) ? substituted : join(modelDir, substituted);
  const what = `${file}: EXECUTION_ENV_PATH '${given}'`;
  if (!existsSync(path)) throw new ConfigError(`${what}: ${path} does not exist`);
  if (statSync(path).isDirectory()) return activated(path, what);
  if (ARCHIVE.test(path)) return activated(await unpacked(path, what), what);
  return { interpreter: path, env: {} };
}

function activated(dir: string, what: string): PythonEnvironment {
  const interpreter = join(dir, "bin", "python");
  if (!existsSync(interpreter))
    throw new ConfigError(`${what}: ${dir} is not a Python environment (it has no bin/python)`);
  const prepend = (value: string, before: string | undefined) =>
    before === undefined || before === "" ? value : `${value}:${before}`;
  return {
    interpreter,
    env: {
      PATH: prepend(join(dir, "bin"), process.env.PATH),
      LD_LIBRARY_PATH: prepend(join(dir, "lib"), process.env.LD_LIBRARY_PATH),
    },
  };
}

/** Where packed environments are unpacked: TENSORBIND_ENV_CACHE, else the user's cache directory. */
export function environmentCache(): string {
  const fromEnv = process.env.TENSORBIND_ENV_CACHE;
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  const base = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(base, "tensorbind", "python-envs");
}

/**
 * The archive unpacked into the cache (once per content): into a fresh directory, moved into
 * place, then conda-pack's `bin/conda-unpack` run there (it rewrites the packed prefixes to the
 * final one) and a marker written. Another server unpacking the same archive meanwhile is waited
 * for; a directory left without its marker for STALE_MS (a crashed attempt) is replaced.
 */
async function unpacked(archive: string, what: string): Promise<string> {
  const root = environmentCache();
  const target = join(root, (await sha256(archive)).slice(0, 32));
  if (isReady(target)) return target;
  const scratch = `${target}.${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    mkdirSync(scratch, { recursive: true });
    await execa("tar", [archive.endsWith(".tar") ? "-xf" : "-xzf", archive, "-C", scratch], {
      stdin: "ignore",
    });
    if (!claim(scratch, target)) {
      rmSync(scratch, { recursive: true, force: true });
      if (await waitReady(target)) return target;
      throw new Error(`${target} is being unpacked by another process that has not finished`);
    }
    const unpack = join(target, "bin", "conda-unpack");
    if (existsSync(unpack)) await execa(join(target, "bin", "python"), [unpack], { stdin: "ignore" });
    writeFileSync(join(target, READY), `${archive}\n`);
  } catch (err) {
    rmSync(scratch, { recursive: true, force: true });
    // execa's errors carry the command's stderr; say that, not the whole command line.
    const e = err as { stderr?: unknown; shortMessage?: string; message: string };
    const detail = (typeof e.stderr === "string" && e.stderr.trim()) || e.shortMessage || e.message;
    throw new ConfigError(`${what}: cannot unpack ${archive} into ${root}: ${detail}`);
  }
  return target;
}

const STALE_MS = 10 * 60_000;
const WAIT_MS = 120_000;

function isReady(dir: string): boolean {
  return existsSync(join(dir, READY));
}

/** Moves the unpacked copy into place; false when another one is there (ready or on its way). */
function claim(scratch: string, target: string): boolean {
  try {
    renameSync(scratch, target);
    return true;
  } catch {
    if (isReady(target)) return false;
    // No marker: a crashed attempt once it is old enough, else another server still at work.
    if (Date.now() - statSync(target).mtimeMs < STALE_MS) return false;
    rmSync(target, { recursive: true, force: true });
    renameSync(scratch, target);
    return true;
  }
}

/** Waits for another process's unpacking of the same archive to finish. */
async function waitReady(target: string): Promise<boolean> {
  for (const end = Date.now() + WAIT_MS; Date.now() < end; await sleep(100)) if (isReady(target)) return true;
  return isReady(target);
}

async function sha256(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}
