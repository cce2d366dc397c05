import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LazyBackend } from "../../../src/backends/lazy.js";
import { python } from "../../../src/backends/python/index.js";
import type { PythonBackend } from "../../../src/backends/python/python-backend.js";
import { tensor } from "../../../src/core/tensor-factory.js";
import { INTERPRETER } from "../../helpers/cli.js";
import { inferJson, startServer } from "../../helpers/server.js";
import { capturingLogger } from "./log-sink.js";

// Defect 8: after 5 quick crashes the restart backoff reached 5 s; with a kill every 3 s a model
// had no worker for 17.5 s of 60. Now the last worker standing restarts promptly while others
// back off, and the crash loop is reported in the log and in metrics.

const log = capturingLogger("info");
let server: Awaited<ReturnType<typeof startServer>>;
beforeAll(async () => {
  server = await startServer(
    [
      {
        name: "py",
        inputs: { x: tensor("INT32", [1]) },
        outputs: { y: tensor("INT32", [1]) },
        fn: python("test/integration/hardening/fixtures/leaky.py", "die_on_negative", {
          interpreter: INTERPRETER,
        }),
      },
    ],
    { metrics: 0, logger: log.logger },
  );
}, 60_000);
afterAll(() => server?.close());

const request = { inputs: [{ name: "x", shape: [1], datatype: "INT32", data: [1] }] };
const workerPid = () => ((server.registry.get("py")!.backend as LazyBackend).loaded as PythonBackend).pids[0];

/** Waits until a request succeeds on a worker other than `dead`; resolves with the time it took. */
async function downtime(dead: number): Promise<number> {
  const t = performance.now();
  for (;;) {
    const pid = workerPid();
    if (
      pid !== undefined &&
      pid !== dead &&
      (await inferJson(server.urls.http!, "py", request)).status === 200
    )
      return performance.now() - t;
    if (performance.now() - t > 20_000) throw new Error("no worker came back within 20 s");
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("defect 8: crash loops", () => {
  it("restarts the only worker promptly however often it was killed, and reports the loop", async () => {
    expect((await inferJson(server.urls.http!, "py", request)).status).toBe(200);
    const down: number[] = [];
    for (let i = 0; i < 7; i++) {
      const pid = workerPid()!;
      process.kill(pid, "SIGKILL");
      down.push(await downtime(pid));
    }
    // The old policy waited 2 s before the 5th restart and 5 s before the 6th and 7th.
    expect(Math.max(...down.slice(4))).toBeLessThan(4000);
    expect(log.lines().some((l) => /is in a crash loop/.test(l.msg))).toBe(true);
    const metrics = await (await fetch(server.urls.metrics!)).text();
    expect(metrics).toMatch(/tensorbind_worker_crash_loop\{model="py",version="1"\} 1/);
    expect(metrics).toMatch(/tensorbind_worker_restarts_total\{model="py",version="1"\} 7/);
  }, 120_000);
});
