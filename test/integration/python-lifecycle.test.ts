import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import type { LazyBackend } from "../../src/backends/lazy.js";
import { python } from "../../src/backends/python/index.js";
import type { PythonBackend } from "../../src/backends/python/python-backend.js";
import type { Backend, ExecutionRequest, ExecutionResult } from "../../src/core/backend.js";
import { silentLogger } from "../../src/core/logger.js";
import { Tensor } from "../../src/core/tensor.js";
import { INTERPRETER } from "../helpers/cli.js";

const FIXTURES = "python/tests/fixtures";

const runtimeDir = mkdtempSync(join(tmpdir(), "tb-pylife-"));
const started: Backend[] = [];
afterAll(async () => {
  await Promise.all(started.map((b) => b.stop()));
  rmSync(runtimeDir, { recursive: true, force: true });
});

function request(x: number): ExecutionRequest {
  const t = Tensor.fromArray("INT32", [1], [x], "x");
  return { id: undefined, inputs: { x: t }, parameters: {}, requestedOutputs: [], signal: undefined };
}

function ok(result: ExecutionResult | Error | undefined): ExecutionResult {
  if (result === undefined || result instanceof Error) throw result ?? new Error("no result");
  return result;
}

async function start(
  module: string,
  fn: string,
  options: Parameters<typeof python>[2] = {},
  log = silentLogger,
  dir = runtimeDir,
) {
  const backend = python(join(FIXTURES, module), fn, { interpreter: INTERPRETER, ...options }).create();
  started.push(backend);
  await backend.start({ model: fn, version: "1", log, runtimeDir: dir });
  return (backend as LazyBackend).loaded as PythonBackend;
}

const alive = (pid: number | undefined) => {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
// Segments of this test process (other suites running at once have their own pid in the name).
const ourSegments = () => readdirSync("/dev/shm").filter((n) => n.startsWith(`tb-${process.pid}-`));

describe("python backend: start-up failures are ConfigErrors with the details", () => {
  it("names a missing interpreter", async () => {
    const err = await start("models.py", "echo", { interpreter: "/nonexistent/python" }).catch(
      (e: Error) => e,
    );
    expect(err).toMatchObject({ code: "TB_ERR_CONFIG" });
    expect((err as Error).message).toMatch(/cannot run interpreter '\/nonexistent\/python'/);
  });

  it("includes the Python traceback of an import error", async () => {
    const err = await start("import_error.py", "infer").catch((e: Error) => e);
    expect(err).toMatchObject({ code: "TB_ERR_CONFIG" });
    expect((err as Error).message).toMatch(/has no module 'tensorbind_no_such_module': run `.*pip install/);
    // The traceback comes along as the cause (the CLI prints it at debug level).
    expect(((err as Error).cause as Error).message).toMatch(/Traceback \(most recent call last\)/);
  }, 30_000);

  it("names a package missing from the interpreter", async () => {
    const env = { PYTHONPATH: join(process.cwd(), FIXTURES, "no_zmq") };
    const err = await start("models.py", "echo", { env }).catch((e: Error) => e);
    expect(err).toMatchObject({ code: "TB_ERR_CONFIG" });
    expect((err as Error).message).toMatch(
      /exited during start-up \(exit code 1\): '.*' has no module 'zmq': run `.* -m pip install numpy pyzmq pyarrow`/,
    );
  }, 30_000);

  it("rejects a bad @tensorbind.model spec", async () => {
    const err = await start("bad_spec.py", "infer").catch((e: Error) => e);
    expect((err as Error).message).toMatch(/ValueError: unknown datatype 'FLOAT32'/);
  }, 30_000);

  it("names a missing function", async () => {
    const err = await start("models.py", "nope").catch((e: Error) => e);
    expect((err as Error).message).toMatch(/has no function 'nope'/);
  }, 30_000);

  it("gives up after the start-up timeout and leaves no process behind", async () => {
    const before = new Set(ourSegments());
    const err = await start("slow_import.py", "infer", { startupTimeoutMs: 1500 }).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/did not start within 1500 ms/);
    expect(ourSegments().filter((n) => !before.has(n))).toEqual([]);
  }, 30_000);
});

describe("python backend: faults and shutdown", () => {
  it("fails only the in-flight request of a killed worker, restarts it, and new calls wait for it", async () => {
    const backend = await start("models.py", "crash_on_negative", { instances: 2 });
    const [pid0, pid1] = backend.pids;
    const [dead] = await backend.execute([request(-1)], 0);
    expect(dead).toBeInstanceOf(Error);
    expect((dead as Error).message).toMatch(
      /python worker 0 of model 'crash_on_negative' died \(killed by SIGKILL\)/,
    );
    // The other instance is untouched.
    expect(ok((await backend.execute([request(5)], 1))[0]).pid?.toArray()).toEqual([pid1]);
    // A new call on the dead instance waits for the restart instead of failing.
    const out = ok((await backend.execute([request(3)], 0))[0]);
    expect(out.y?.toArray()).toEqual([3]);
    const newPid = out.pid?.toArray()[0];
    expect(newPid).not.toBe(pid0);
    expect(alive(pid0)).toBe(false);
  }, 60_000);

  it("forwards worker stdout to the log with the model name", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    const backend = await start("models.py", "crash_on_negative", {}, pino({ level: "info" }, sink));
    await backend.execute([request(-1)], 0);
    await backend.execute([request(1)], 0); // waits for the restart
    expect(lines.some((l) => l.includes("[crash_on_negative] about to die"))).toBe(true);
  }, 60_000);

  it("stop() leaves no process, no /dev/shm entry and no socket file", async () => {
    const before = new Set(ourSegments()); // other suites may be running
    const dir = mkdtempSync(join(runtimeDir, "stop-")); // its own, so other tests' sockets don't count
    const backend = await start("models.py", "echo", { instances: 2 }, silentLogger, dir);
    const big = Tensor.fromTyped("UINT8", [3 << 20], new Uint8Array(3 << 20), "x"); // forces a second segment
    await backend.execute([{ ...request(1), inputs: { x: big } }], 0);
    await backend.execute([request(1)], 1);
    const pids = backend.pids;
    expect(pids.every(alive)).toBe(true);
    await backend.stop();
    await backend.stop(); // idempotent
    expect(pids.some(alive)).toBe(false);
    expect(ourSegments().filter((n) => !before.has(n))).toEqual([]);
    expect(readdirSync(dir)).toEqual([]);
    await expect(backend.execute([request(1)], 0)).rejects.toMatchObject({ code: "TB_ERR_UNAVAILABLE" });
  }, 60_000);
});
