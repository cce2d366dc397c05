import { describe, expect, it } from "vitest";
import type { Backend, ExecutionRequest, ExecutionResult } from "../../src/core/backend.js";
import { resolveScheduling } from "../../src/core/scheduling.js";
import type { ExecutionTimings } from "../../src/core/statistics.js";
import { Tensor } from "../../src/core/tensor.js";
import { BUNDLE_BELOW_NS, MAX_BUNDLE_BYTES } from "../../src/scheduler/bundle.js";
import { Scheduler } from "../../src/scheduler/scheduler.js";

/** A backend that takes several batches at once; each run ends when the test says so. */
class BundlingBackend implements Backend {
  readonly kind = "python" as const;
  /** The batches of each run, as request ids. */
  readonly runs: string[][][] = [];
  readonly #waiting: (() => void)[] = [];
  constructor(readonly instances = 1) {}
  async start() {
    return undefined;
  }
  execute(batch: readonly ExecutionRequest[]): Promise<ExecutionResult[]> {
    return this.executeMany([batch]).then((r) => r[0]!);
  }
  async executeMany(batches: readonly (readonly ExecutionRequest[])[]): Promise<ExecutionResult[][]> {
    this.runs.push(batches.map((b) => b.map((r) => r.id!)));
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
    return batches.map((b) => b.map((r) => ({ [r.id!]: undefined as never })));
  }
  release(): void {
    this.#waiting.shift()?.();
  }
  async stop() {}
}

const req = (id: string): ExecutionRequest => ({
  id,
  inputs: {},
  parameters: {},
  requestedOutputs: [],
  signal: undefined,
});
const tick = () => new Promise((r) => setImmediate(r));

describe("Scheduler with a backend that runs several batches in one go", () => {
  it("hands a busy instance's queue to it in one run, each request its own batch and its own result", async () => {
    const backend = new BundlingBackend(1);
    const executions: [number, ExecutionTimings][] = [];
    const s = new Scheduler(backend, { onExecution: (n, t) => executions.push([n, t]) });
    const done = ["a", "b", "c", "d"].map((id) => s.submit(req(id)));
    await tick();
    expect(backend.runs).toEqual([[["a"]]]); // the first one alone: nothing was queued yet
    backend.release();
    await tick();
    expect(backend.runs[1]).toEqual([["b"], ["c"], ["d"]]);
    expect(s.executing).toBe(3);
    backend.release();
    const results = await Promise.all(done);
    expect(results.map((r) => Object.keys(r.result))).toEqual([["a"], ["b"], ["c"], ["d"]]);
    // One execution per batch in the statistics; the later batches of a run count the earlier
    // ones' share of its time as queue time.
    expect(executions.map(([n]) => n)).toEqual([1, 1, 1, 1]);
    expect(results[3]!.queueNs).toBeGreaterThanOrEqual(results[2]!.queueNs);
    expect(results[1]!.timings.computeInferNs).toBe(results[2]!.timings.computeInferNs);
    expect(s.executing).toBe(0);
  });

  it("leaves an even share of the queue to each instance and none while another is free", async () => {
    const backend = new BundlingBackend(2);
    const s = new Scheduler(backend);
    const done = ["a", "b"].map((id) => s.submit(req(id)));
    await tick();
    expect(backend.runs).toEqual([[["a"]], [["b"]]]);
    done.push(...["c", "d", "e", "f", "g"].map((id) => s.submit(req(id))));
    backend.release(); // frees a's instance: 5 queued, 2 instances → it takes c and 2 more
    await tick();
    expect(backend.runs[2]).toEqual([["c"], ["d"], ["e"]]);
    backend.release(); // b's instance: f and g
    await tick();
    expect(backend.runs[3]).toEqual([["f"], ["g"]]);
    backend.release();
    backend.release();
    await Promise.all(done);
  });

  it("bundles no more than MAX_BUNDLE_BYTES of inputs: large requests go one by one", async () => {
    const backend = new BundlingBackend(1);
    const s = new Scheduler(backend);
    const big = (id: string): ExecutionRequest => ({
      ...req(id),
      inputs: {
        x: new Tensor("x", "UINT8", [MAX_BUNDLE_BYTES / 2 + 1], new Uint8Array(MAX_BUNDLE_BYTES / 2 + 1)),
      },
    });
    const done = [s.submit(req("a")), s.submit(big("b")), s.submit(big("c")), s.submit(big("d"))];
    await tick();
    backend.release();
    await tick();
    expect(backend.runs[1]).toEqual([["b"], ["c"]]); // c fits under the cap, c and d together do not
    for (let i = 0; i < 3; i++) {
      backend.release();
      await tick();
    }
    expect(backend.runs[2]).toEqual([["d"]]);
    await Promise.all(done);
  });

  it("does not bundle while executions are slow: a bundled request would only be answered later when cancelled", async () => {
    const backend = new BundlingBackend(1);
    const s = new Scheduler(backend);
    const done = ["a", "b", "c", "d"].map((id) => s.submit(req(id)));
    await tick();
    await new Promise((r) => setTimeout(r, (BUNDLE_BELOW_NS / 1e6) * 2)); // a takes 20 ms
    backend.release();
    await tick();
    expect(backend.runs[1]).toEqual([["b"]]);
    backend.release(); // b was quick: c and d go together
    await tick();
    expect(backend.runs[2]).toEqual([["c"], ["d"]]);
    backend.release();
    await Promise.all(done);
  });

  it("does not bundle with dynamic batching, priority levels or a request with a deadline", async () => {
    for (const scheduling of [
      resolveScheduling({ maxBatchSize: 8, batching: { maxQueueDelayMs: 0 } }),
      resolveScheduling({ maxBatchSize: 0, queue: { priorityLevels: 2 } }),
    ]) {
      const backend = new BundlingBackend(1);
      const s = new Scheduler(backend, { maxBatchSize: scheduling.dynamicBatching ? 8 : 0, scheduling });
      const done = ["a", "b", "c"].map((id) => s.submit(req(id)));
      await tick();
      backend.release();
      await tick();
      expect(backend.runs[1]).toHaveLength(1); // one batch: b alone, or b and c merged by the batcher
      for (let i = 0; i < 3; i++) {
        backend.release();
        await tick();
      }
      await Promise.all(done);
      expect(backend.runs.every((run) => run.length === 1)).toBe(true);
    }
    const backend = new BundlingBackend(1);
    const s = new Scheduler(backend);
    const first = s.submit(req("a"));
    const rest = [s.submit(req("b")), s.submit(req("c"), { deadline: performance.now() + 60_000 })];
    await tick();
    backend.release();
    await tick();
    expect(backend.runs[1]).toEqual([["b"]]); // c has a deadline: it waits in the queue
    backend.release();
    await tick();
    expect(backend.runs[2]).toEqual([["c"]]);
    backend.release();
    await Promise.all([first, ...rest]);
  });
});
