import { type ChildProcess, spawn } from "node:child_process";
import { availableParallelism } from "node:os";
import { gpuPinning } from "./gpu-pinning.js";
import { workerPythonPath } from "./package-dir.js";

/**
 * A Python worker started ahead of its model: `tensorbind serve` starts one as its first step, so
 * that the interpreter and its imports (NumPy, pyzmq, the worker's modules: most of a worker's
 * start-up) run while the server loads its own modules and the model file. The first worker
 * spawned with the same interpreter, working directory and environment takes it over: it gets
 * its arguments on stdin and goes on exactly as a freshly spawned worker would. Anything else
 * spawns as usual, and an unused head start is stopped once the server is up. It needs a second
 * CPU (a server pinned to one gains nothing: the two would take turns); TENSORBIND_PYTHON_PREWARM=0
 * turns it off.
 */
interface Prewarmed {
  readonly child: ChildProcess;
  readonly interpreter: string;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
}

let prewarmed: Prewarmed | undefined;

/** The environment of a worker process: the server's, the model's, its GPU, the Python path. */
export function workerEnv(
  modelEnv: Readonly<Record<string, string>>,
  gpu: number,
  instance: number,
): Record<string, string | undefined> {
  return {
    ...process.env,
    ...modelEnv,
    ...gpuPinning(gpu, modelEnv.CUDA_VISIBLE_DEVICES ?? process.env.CUDA_VISIBLE_DEVICES),
    PYTHONPATH: workerPythonPath(modelEnv.PYTHONPATH ?? process.env.PYTHONPATH),
    PYTHONUNBUFFERED: "1",
    // Which instance this worker is (the GPU of a Triton instance group).
    TENSORBIND_INSTANCE: String(instance),
  };
}

/**
 * Starts a worker's interpreter ahead of its model (instance 0 of a model with no own env or GPU);
 * `serverEnv`: variables the server will have set by the time it spawns its workers.
 */
export function prewarmWorker(interpreter: string, serverEnv: Readonly<Record<string, string>> = {}): void {
  if (prewarmed !== undefined || process.env.TENSORBIND_PYTHON_PREWARM === "0") return;
  if (availableParallelism() < 2) return;
  const env = { ...workerEnv({}, -1, 0), ...serverEnv };
  const child = spawn(interpreter, ["-m", "tensorbind._proxy.prewarm"], {
    env,
    stdio: ["pipe", "pipe", "pipe"],
  });
  child.on("error", () => undefined); // no such interpreter: the worker's own spawn reports it
  if (child.pid === undefined) return;
  killOnExit(child);
  prewarmed = { child, interpreter, cwd: process.cwd(), env };
}

/**
 * The prewarmed process, started on `args` (`-m tensorbind.worker …`), when it was started just
 * as `spawn(interpreter, args, { env })` would start it now and is still running; else undefined.
 */
export function adoptPrewarmed(
  interpreter: string,
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): ChildProcess | undefined {
  const p = prewarmed;
  if (p === undefined || args[0] !== "-m" || args[1] !== "tensorbind.worker") return undefined;
  const stdin = p.child.stdin;
  const same =
    p.interpreter === interpreter &&
    p.cwd === process.cwd() &&
    sameEnv(p.env, env) &&
    p.child.exitCode === null &&
    p.child.signalCode === null &&
    stdin?.writable === true;
  if (!same) return undefined;
  prewarmed = undefined;
  stdin.end(`${JSON.stringify({ argv: args.slice(2), env })}\n`);
  return p.child;
}

/** Stops a prewarmed process nobody took over. */
export function discardPrewarmed(): void {
  prewarmed?.child.kill("SIGKILL");
  prewarmed = undefined;
}

/** Everything the interpreter reads as it starts is the same; the instance is set on takeover. */
function sameEnv(
  a: Readonly<Record<string, string | undefined>>,
  b: Readonly<Record<string, string | undefined>>,
): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  keys.delete("TENSORBIND_INSTANCE");
  for (const k of keys) if (a[k] !== b[k]) return false;
  return true;
}

// Workers still running when the server's process exits are killed (their own parent-death
// watch covers a server killed outright).
const running = new Set<ChildProcess>();
let hooked = false;

/** Kills `child` if it still runs when this process exits. */
export function killOnExit(child: ChildProcess): void {
  if (!hooked) {
    hooked = true;
    process.once("exit", () => {
      for (const c of running) c.kill("SIGKILL");
    });
  }
  running.add(child);
  child.once("exit", () => running.delete(child));
}
