import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { LazyBackend } from "../../src/backends/lazy.js";
import { python } from "../../src/backends/python/index.js";
import type { PythonBackend } from "../../src/backends/python/python-backend.js";
import { serverPrefix } from "../../src/backends/shm-names.js";
import type { Backend, ExecutionRequest } from "../../src/core/backend.js";
import { silentLogger } from "../../src/core/logger.js";
import { Tensor } from "../../src/core/tensor.js";
import { INTERPRETER, ROOT, spawnServer } from "../helpers/cli.js";
import { startServer } from "../helpers/server.js";

// Issue 18, defect 6: a worker created its output segment before copying the output in, and
// the server learnt the name only from the reply, so a SIGKILL in between left the segment in
// /dev/shm; a SIGKILLed server left its runtime dir under /tmp. Now every segment is named after
// the server and its arena (known before it exists), survivors sweep those names, and a
// starting server removes what dead servers left.

const FIXTURES = join(ROOT, "python/tests/fixtures/models.py");
const started: Backend[] = [];
afterAll(async () => {
  await Promise.all(started.map((b) => b.stop()));
});

function request(x: number): ExecutionRequest {
  const t = Tensor.fromArray("INT32", [1], [x], "x");
  return { id: undefined, inputs: { x: t }, parameters: {}, requestedOutputs: [], signal: undefined };
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
  return cond();
}

describe("defect 6: shared memory left behind after SIGKILL", () => {
  it("a worker SIGKILLed after creating an output segment the server has not seen leaves nothing", async () => {
    const backend = python(FIXTURES, "die_on_negative", { interpreter: INTERPRETER }).create();
    started.push(backend);
    await backend.start({ model: "die", version: "1", log: silentLogger, runtimeDir: tmpdir() });
    const loaded = (backend as LazyBackend).loaded as PythonBackend;
    const pid = loaded.pids[0]!;
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    const prefix = argv[argv.indexOf("--shm-prefix") + 1]!.slice(1);
    const left = () => readdirSync("/dev/shm").filter((n) => n.startsWith(prefix));
    // One message, two calls: the first creates a 2 MiB output segment (named, not yet reported),
    // the second SIGKILLs the worker before the reply that would have told the server its name.
    const results = await backend.execute([request(1), request(-1)], 0);
    expect(results.every((r) => r instanceof Error)).toBe(true);
    expect(await until(() => left().length === 0, 3_000), `left in /dev/shm: ${left().join(", ")}`).toBe(
      true,
    );
  }, 30_000);

  it("a starting server removes the runtime dir and segments a SIGKILLed server left", async () => {
    const models = join(ROOT, "test/fixtures/shm-limits/models.ts");
    const server = await spawnServer(
      ["--http-port", "0", "--grpc-port", "0", "--metrics-port", "0", models],
      {
        env: { ...process.env, TENSORBIND_PYTHON: INTERPRETER },
      },
    );
    const pid = server.info.pid;
    const dirs = () =>
      readdirSync(tmpdir())
        .filter((n) => n.startsWith("tensorbind-"))
        .filter((n) => {
          try {
            return readFileSync(join(tmpdir(), n, "server.pid"), "utf8") === String(pid);
          } catch {
            return false;
          }
        });
    expect(dirs()).toHaveLength(1);
    expect(await server.stop("SIGKILL")).toBe("SIGKILL");
    expect(dirs()).toHaveLength(1); // left behind by the SIGKILL
    // As if the server and its workers had been killed together (an OOM kill of the cgroup).
    const segment = `/dev/shm${serverPrefix(pid)}000000000000-leftover`;
    writeFileSync(segment, "x");
    const next = await startServer([]);
    try {
      expect(dirs()).toEqual([]);
      expect(existsSync(segment)).toBe(false);
    } finally {
      await next.close();
    }
  }, 60_000);

  it("leaves alone the runtime dirs of live servers and dirs without an owner", async () => {
    const foreign = join(tmpdir(), `tensorbind-test-${process.pid}`);
    mkdirSync(foreign, { recursive: true });
    const live = await startServer([]);
    try {
      expect(existsSync(live.runtimeDir)).toBe(true);
      const other = await startServer([]);
      await other.close();
      expect(existsSync(live.runtimeDir)).toBe(true);
      expect(existsSync(foreign)).toBe(true);
    } finally {
      await live.close();
    }
  }, 30_000);
});
