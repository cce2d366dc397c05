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

  it("records one execution per batch with its timings", async () => {
    const backend = new ManualBackend(1);
    const seen: number[] = [];
    const s = new Scheduler(backend, {
      onExecution: (size, t) => seen.push(size, t.computeInferNs >= 0 ? 1 : 0),
    });
    const a = s.submit(req("a"));
    await tick();
    backend.release();
    const r = await a;
    expect(seen).toEqual([1, 1]);
    expect(r.queueNs).toBeGreaterThanOrEqual(0);
  });
});
