import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { batch } from "../../src/backends/js/decorators/index.js";
import { tensor } from "../../src/core/tensor-factory.js";
import { getJson } from "../helpers/json.js";
import { startServer } from "../helpers/server.js";

const run = promisify(execFile);

/**
 * Overload: ten times what the model can serve, with a bounded queue. Rejections must come at
 * once (503, not after a wait), the queue and the memory must stay bounded, and the admitted
 * requests must keep a latency near what the queue bound implies, not one that grows with the load.
 */
describe("overload with a bounded queue", () => {
  it("rejects the excess at once and keeps admitted latency and memory bounded", async () => {
    // The model, not the HTTP frontend, must be the bottleneck: 100 ms per batch of up to 2 is a
    // capacity of about 20 requests/s, and 200 requests/s is ten times that.
    const EXEC_MS = 100;
    const MAX_QUEUE = 4;
    const server = await startServer(
      [
        {
          name: "busy",
          maxBatchSize: 2,
          batching: true,
          queue: { maxSize: MAX_QUEUE },
          inputs: { X: tensor("FP32", [16]) },
          outputs: { Y: tensor("FP32", [16]) },
          fn: batch(async ({ X }) => {
            await new Promise((r) => setTimeout(r, EXEC_MS));
            return { Y: X! };
          }),
        },
      ],
      { shutdownGraceMs: 3000 },
    );
    const url = `${server.urls.http}/v2/models/busy/infer`;
    const body = JSON.stringify({
      inputs: [{ name: "X", shape: [1, 16], datatype: "FP32", data: new Array(16).fill(1) }],
    });
    const scheduler = server.registry.get("busy").scheduler;
    let maxDepth = 0;
    const probe = setInterval(() => {
      maxDepth = Math.max(maxDepth, scheduler.queueDepth);
    }, 2);
    const rssBefore = process.memoryUsage().rss;

    // Open loop from another process: 400 requests in 2 s, whatever the answers take (10x capacity).
    const { stdout } = await run(process.execPath, [
      join(import.meta.dirname, "../helpers/open-loop.mjs"),
      url,
      "200",
      "400",
      body,
    ]);
    const results = JSON.parse(stdout) as { status: number; ms: number }[];
    clearInterval(probe);
    const rssGrowthMb = (process.memoryUsage().rss - rssBefore) / 2 ** 20;

    const ok = results.filter((r) => r.status === 200).map((r) => r.ms);
    const rejected = results.filter((r) => r.status === 503).map((r) => r.ms);
    const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * p)]!;
    const summary = {
      ok: ok.length,
      rejected: rejected.length,
      okP50: pct(ok, 0.5),
      okMax: Math.max(...ok),
      rejectedP50: pct(rejected, 0.5),
      rejectedP95: pct(rejected, 0.95),
      maxDepth,
      rssGrowthMb,
    };
    expect(results.length, JSON.stringify(summary)).toBe(400);
    expect(ok.length + rejected.length, JSON.stringify(summary)).toBe(400); // nothing but 200 and 503
    expect(rejected.length, JSON.stringify(summary)).toBeGreaterThan(250);
    expect(ok.length, JSON.stringify(summary)).toBeGreaterThan(15);
    // The queue never held more than its bound.
    expect(maxDepth, JSON.stringify(summary)).toBeLessThanOrEqual(MAX_QUEUE);
    // Rejections come at once: far below one execution's time plus what a queued request waits.
    expect(summary.rejectedP50, JSON.stringify(summary)).toBeLessThan(EXEC_MS / 2);
    expect(summary.rejectedP95, JSON.stringify(summary)).toBeLessThan(EXEC_MS * 2);
    // Admitted requests wait for at most (queue + running) / batch = 3 batches, about 300 ms; an
    // unbounded queue would make the last of 400 requests wait about 18 s. Loose for a shared machine.
    expect(summary.okMax, JSON.stringify(summary)).toBeLessThan(2000);
    expect(rssGrowthMb, JSON.stringify(summary)).toBeLessThan(150);

    const stats = (await getJson(`${server.urls.http}/v2/models/busy/stats`)).model_stats[0];
    expect(stats.inference_stats.success.count).toBe(ok.length);
    expect(stats.inference_stats.fail.count).toBe(rejected.length);
    await server.close();
  }, 60_000);
});
