import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const ROOT = join(import.meta.dirname, "../..");
export const BIN = join(ROOT, "bin/tensorbind.js");
export const INTERPRETER =
  process.env.TENSORBIND_PYTHON ??
  (existsSync(join(ROOT, ".venv/bin/python")) ? join(ROOT, ".venv/bin/python") : "python3");

export interface ReadyInfo {
  readonly http: string;
  readonly grpc?: string;
  /** The Prometheus endpoint's URL (…/metrics), when the metrics port is on. */
  readonly metrics?: string;
  readonly pid: number;
}

/** A `tensorbind serve` process started by a test; `stop()` ends it and removes its temp dir. */
export interface ServerProcess {
  readonly child: ChildProcess;
  readonly info: ReadyInfo;
  readonly dir: string;
  output(): string;
  /** Resolves with the exit code (or signal) once the process has exited. */
  readonly exited: Promise<number | string | null>;
  stop(signal?: NodeJS.Signals): Promise<number | string | null>;
}

/**
 * Spawns `command` (default `node bin/tensorbind.js serve …args --ready-file F`) and waits for
 * the ready file. `wrap` turns the argument list into another command line (e.g. bwrap …);
 * `dir` is the test's temp dir, removed by `stop()`.
 */
export async function spawnServer(
  args: readonly string[],
  options: {
    env?: NodeJS.ProcessEnv;
    timeoutMs?: number;
    readyFile?: (dir: string) => string;
    wrap?: (argv: string[], dir: string) => string[];
  } = {},
): Promise<ServerProcess> {
  const dir = mkdtempSync(join(tmpdir(), "tb-srv-"));
  const ready = options.readyFile?.(dir) ?? join(dir, "ready.json");
  let argv = [process.execPath, BIN, "serve", ...args, "--ready-file", ready];
  if (options.wrap) argv = options.wrap(argv, dir);
  const [cmd, ...rest] = argv as [string, ...string[]];
  const child = spawn(cmd, rest, {
    cwd: ROOT,
    env: options.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (d) => (output += d));
  child.stderr?.on("data", (d) => (output += d));
  const exited = new Promise<number | string | null>((r) => child.on("exit", (code, sig) => r(code ?? sig)));
  const stop = async (signal: NodeJS.Signals = "SIGTERM") => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    const code = await exited;
    rmSync(dir, { recursive: true, force: true });
    return code;
  };
  const end = Date.now() + (options.timeoutMs ?? 30_000);
  let gone = false;
  void exited.then(() => (gone = true));
  while (!existsSync(ready)) {
    if (gone || Date.now() > end) {
      await stop("SIGKILL");
      throw new Error(`server did not become ready (${gone ? "it exited" : "timeout"}); output:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const info = JSON.parse(readFileSync(ready, "utf8")) as ReadyInfo;
  return { child, info, dir, output: () => output, exited, stop };
}

/** POSTs a KServe v2 JSON infer request. */
export async function infer(
  base: string,
  model: string,
  inputs: { name: string; datatype: string; shape: number[]; data: number[] }[],
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}/v2/models/${model}/infer`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ inputs }),
  });
  return { status: res.status, body: await res.json() };
}
