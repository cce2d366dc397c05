import { describe, expect, it } from "vitest";
import type { Backend, ExecutionRequest, ExecutionResult } from "../../src/core/backend.js";
import { Scheduler } from "../../src/scheduler/scheduler.js";

/** A backend whose executions finish only when the test says so. */
class ManualBackend implements Backend {
  readonly kind = "js" as const;
  readonly executed: string[] = [];
  readonly #waiting: (() => void)[] = [];
  constructor(readonly instances = 1) {}
  async start() {
    return undefined;
  }
  async execute(batch: readonly ExecutionRequest[]): Promise<ExecutionResult[]> {
    for (const r of batch) this.executed.push(r.id!);
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
    return batch.map(() => ({}));
  }
  release(): void {
    this.#waiting.shift()?.();
  }
  get running(): number {
    return this.#waiting.length;
  }
  async stop() {}
}

const req = (id: string, signal?: AbortSignal): ExecutionRequest => ({
  id,
  inputs: {},
  parameters: {},
  requestedOutputs: [],
  signal,
});
const tick = () => new Promise((r) => setImmediate(r));

describe("Scheduler", () => {
  it("runs at most `instances` executions at once, in arrival order", async () => {
    const backend = new ManualBackend(2);
    const s = new Scheduler(backend);
    const done = ["a", "b", "c"].map((id) => s.submit(req(id)));
    await tick();
    expect(backend.executed).toEqual(["a", "b"]);
    expect(s.queueDepth).toBe(1);
    backend.release();
    await done[0];
    await tick();
    expect(backend.executed).toEqual(["a", "b", "c"]);
    backend.release();
    backend.release();
    await Promise.all(done);
  });

  it("never executes a request cancelled while queued", async () => {
    const backend = new ManualBackend(1);
    const s = new Scheduler(backend);
    const first = s.submit(req("a"));
    const ac = new AbortController();
    const second = s.submit(req("b", ac.signal));
    ac.abort();
    await expect(second).rejects.toMatchObject({ code: "TB_ERR_CANCELLED" });
    backend.release();
    await first;
    await tick();
    expect(backend.executed).toEqual(["a"]);
  });

  it("never executes a request whose deadline passed in the queue", async () => {
    const backend = new ManualBackend(1);
    const s = new Scheduler(backend);
    const first = s.submit(req("a"));
    const late = s.submit(req("b"), { deadline: performance.now() + 5 });
    const rejected = expect(late).rejects.toMatchObject({ code: "TB_ERR_DEADLINE_EXCEEDED" });
    await new Promise((r) => setTimeout(r, 20));
    backend.release();
    await first;
    await rejected;
    expect(backend.executed).toEqual(["a"]);
  });

  it("rejects at once with UNAVAILABLE when the queue is full", async () => {
    const backend = new ManualBackend(1);
    const s = new Scheduler(backend, { maxQueueSize: 1 });
    const a = s.submit(req("a"));
    await tick();
    const b = s.submit(req("b"));
    await expect(s.submit(req("c"))).rejects.toMatchObject({
      code: "TB_ERR_UNAVAILABLE",
      message: expect.stringMatching(/queue is full/),
    });
    backend.release();
    await a;
    await tick();
    backend.release();
    await b;
  });

  it("drains queued and running work on stop, then refuses new requests", async () => {
    const backend = new ManualBackend(1);
    const s = new Scheduler(backend);
    const a = s.submit(req("a"));
    const b = s.submit(req("b"));
    const stopped = s.stop({ drain: true });
    await expect(s.submit(req("c"))).rejects.toMatchObject({ code: "TB_ERR_UNAVAILABLE" });
    backend.release();
    await a;
    await tick();
    backend.release();
    await b;
    await stopped;
    expect(backend.executed).toEqual(["a", "b"]);
  });

  it("records one execution per batch with its timings: queue time and compute time as they passed", async () => {
    const backend = new ManualBackend(1);
    const seen: { size: number; inferMs: number }[] = [];
    const s = new Scheduler(backend, {
      onExecution: (size, t) => seen.push({ size, inferMs: t.computeInferNs / 1e6 }),
    });
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const t0 = performance.now();
    const a = s.submit(req("a"));
    const b = s.submit(req("b")); // waits in the queue while "a" runs
    await sleep(60);
    backend.release(); // "a" ran for ≥ 60 ms
    const ra = await a;
    await tick();
    await sleep(30);
    backend.release(); // "b" ran for ≥ 30 ms after ≥ 60 ms queued
    const rb = await b;
    const wallMs = performance.now() - t0;
    expect(seen.map((e) => e.size)).toEqual([1, 1]);
    expect(seen[0]!.inferMs).toBeGreaterThanOrEqual(55);
    expect(seen[1]!.inferMs).toBeGreaterThanOrEqual(25);
    expect(ra.queueNs / 1e6).toBeLessThan(20); // "a" started at once
    expect(rb.queueNs / 1e6).toBeGreaterThanOrEqual(55);
    // Nothing counted twice or invented: queue + compute of "b" fit in the wall time.
    expect(rb.queueNs / 1e6 + seen[1]!.inferMs).toBeLessThanOrEqual(wallMs + 1);
  });
});
