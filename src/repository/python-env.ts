import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";
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
 */
export function executionEnvironment(given: string, modelDir: string, file: string): PythonEnvironment {
  const substituted = given.replaceAll("$$TRITON_MODEL_DIRECTORY", modelDir);
  const path = isAbsolute(substituted) ? substituted : join(modelDir, substituted);
  const what = `${file}: EXECUTION_ENV_PATH '${given}'`;
  if (!existsSync(path)) throw new ConfigError(`${what}: ${path} does not exist`);
  if (statSync(path).isDirectory()) return activated(path, what);
  if (ARCHIVE.test(path)) return activated(unpacked(path, what), what);
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
function unpacked(archive: string, what: string): string {
  const root = environmentCache();
  const target = join(root, sha256(archive).slice(0, 32));
  if (isReady(target)) return target;
  const scratch = `${target}.${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    mkdirSync(scratch, { recursive: true });
    execFileSync("tar", [archive.endsWith(".tar") ? "-xf" : "-xzf", archive, "-C", scratch], {
      stdio: "pipe",
    });
    if (!claim(scratch, target)) {
      rmSync(scratch, { recursive: true, force: true });
      if (waitReady(target)) return target;
      throw new Error(`${target} is being unpacked by another process that has not finished`);
    }
    const unpack = join(target, "bin", "conda-unpack");
    if (existsSync(unpack)) execFileSync(join(target, "bin", "python"), [unpack], { stdio: "pipe" });
    writeFileSync(join(target, READY), `${archive}\n`);
  } catch (err) {
    rmSync(scratch, { recursive: true, force: true });
    const e = err as { stderr?: Buffer; message: string };
    const detail = e.stderr?.toString().trim() || e.message;
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

/** Waits (blocking: this runs while the model loads) for another process's unpacking to finish. */
function waitReady(target: string): boolean {
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  for (const end = Date.now() + WAIT_MS; Date.now() < end; Atomics.wait(sleeper, 0, 0, 100))
    if (isReady(target)) return true;
  return isReady(target);
}

function sha256(file: string): string {
  const hash = createHash("sha256");
  const fd = openSync(file, "r");
  try {
    const chunk = Buffer.allocUnsafe(1 << 20);
    for (let n = readSync(fd, chunk); n > 0; n = readSync(fd, chunk)) hash.update(chunk.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest("hex");
}
