import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { python } from "../../src/backends/python/index.js";
import { INTERPRETER, infer, ROOT, spawnServer } from "../helpers/cli.js";
import { descendants, mappedShm, running, waitUntil } from "../helpers/procs.js";
import { startServer } from "../helpers/server.js";

const NUMPY_MODELS = join(ROOT, "examples/python-numpy/models.ts");
const X = { name: "x", datatype: "FP32", shape: [2, 4], data: [1, 2, 3, 4, 0, 0, 0, 1] };

describe("python workers never outlive the server", () => {
  it("leaves no worker process and nothing in /dev/shm within 3 s of the server's SIGKILL", async () => {
    const server = await spawnServer(
      ["--http-port", "0", "--grpc-port", "0", "--metrics-port", "0", NUMPY_MODELS],
      {
        env: { ...process.env, TENSORBIND_PYTHON: INTERPRETER },
      },
    );
    let workers: number[] = [];
    try {
      const res = await infer(server.info.http, "linear_softmax", [X]);
      expect(res.status).toBe(200);
      workers = descendants(server.info.pid);
      expect(workers.length).toBeGreaterThanOrEqual(2); // instances: 2
      const shm = mappedShm([server.info.pid, ...workers]);
      expect(shm.length).toBeGreaterThan(0); // the arenas are there, mapped, named after the server
      expect(shm.every((n) => n.startsWith(`tb-${server.info.pid}-`))).toBe(true);

      expect(await server.stop("SIGKILL")).toBe("SIGKILL");
      const gone = await waitUntil(() => !workers.some(running), 3_000);
      expect(workers.filter(running), "workers alive 3 s after the server's SIGKILL").toEqual([]);
      expect(gone).toBe(true);
      // The workers outlive their server just long enough to unlink what it left.
      expect(shm.filter((n) => existsSync(`/dev/shm/${n}`))).toEqual([]);
    } finally {
      for (const pid of workers.filter(running)) process.kill(pid, "SIGKILL");
      await server.stop("SIGKILL");
    }
  }, 60_000);
});

describe("python model: close() drains", () => {
  it("answers every request in flight, then stops the workers", async () => {
    const fixture = join(ROOT, "python/tests/fixtures/models.py");
    const server = await startServer([
      { name: "slow", fn: python(fixture, "slow_echo", { interpreter: INTERPRETER, instances: 2 }) },
    ]);
    const workers = descendants(process.pid).filter((p) => running(p));
    expect(workers.length).toBeGreaterThanOrEqual(2);
    const base = server.urls.http as string;
    // 6 requests on 2 workers that take 0.3 s each: two run while four wait in the queue.
    let settled = 0;
    const calls = Array.from({ length: 6 }, (_, i) =>
      infer(base, "slow", [{ name: "x", datatype: "INT32", shape: [2], data: [i, 10 * i] }]).finally(
        () => settled++,
      ),
    );
    await Promise.race(calls); // by now every request has reached the server
    const closing = server.close();
    expect(settled).toBeLessThan(6);
    await closing;
    const results = await Promise.all(calls);
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(results.map((r) => r.body.outputs[0].data)).toEqual(
      Array.from({ length: 6 }, (_, i) => [i, 10 * i]),
    );
    expect(workers.filter(running)).toEqual([]);
  }, 60_000);
});
