import { describe, expect, it } from "vitest";
import type { Backend, ExecutionRequest, ExecutionResult } from "../../src/core/backend.js";
import { resolveScheduling } from "../../src/core/scheduling.js";
import { Tensor } from "../../src/core/tensor.js";
import { nextBatch } from "../../src/scheduler/batcher.js";
import { Scheduler, type SubmitOptions } from "../../src/scheduler/scheduler.js";
import { ManualClock } from "../helpers/manual-clock.js";

/** A backend whose executions finish only when the test says so; it records each batch's ids. */
class BatchBackend implements Backend {
  readonly kind = "js" as const;
  readonly batches: string[][] = [];
  readonly byInstance: number[] = [];
  readonly signals = new Map<string, AbortSignal>();
  readonly #waiting: { instance: number; resolve: () => void }[] = [];
  constructor(readonly instances = 1) {}
  async start() {
    return undefined;
  }
  async execute(batch: readonly ExecutionRequest[], instance: number): Promise<ExecutionResult[]> {
    this.batches.push(batch.map((r) => r.id!));
    this.byInstance.push(instance);
    for (const r of batch) if (r.signal) this.signals.set(r.id!, r.signal);
    await new Promise<void>((resolve) => this.#waiting.push({ instance, resolve }));
    // Each request gets its own input back, so a test can see results reach the right request.
    return batch.map((r) => ({ OUT: r.inputs.X! }));
  }
  /** Finishes the oldest running execution (or the one on `instance`). */
  release(instance?: number): void {
    const i = instance === undefined ? 0 : this.#waiting.findIndex((w) => w.instance === instance);
    if (i >= 0) this.#waiting.splice(i, 1)[0]!.resolve();
  }
  get running(): number {
    return this.#waiting.length;
  }
  async stop() {}
}

const flush = () => new Promise((r) => setImmediate(r));

function req(id: string, rows = 1, width = 2, signal?: AbortSignal): ExecutionRequest {
  const values = Array.from({ length: rows * width }, (_, i) => i);
  return {
    id,
    inputs: { X: Tensor.fromArray("FP32", [rows, width], values, "X") },
    parameters: {},
    requestedOutputs: ["OUT"],
    signal,
  };
}

function setup(
  options: {
    instances?: number;
    maxBatchSize?: number;
    batching?: Parameters<typeof resolveScheduling>[0]["batching"];
    queue?: Parameters<typeof resolveScheduling>[0]["queue"];
  } = {},
) {
  const clock = new ManualClock();
  const backend = new BatchBackend(options.instances ?? 1);
  const maxBatchSize = options.maxBatchSize ?? 8;
  const sizes: number[] = [];
  const scheduling = resolveScheduling({
    maxBatchSize,
    batching: options.batching ?? { maxQueueDelayMs: 10 },
    queue: options.queue,
  });
  const s = new Scheduler(backend, {
    model: "m",
    maxBatchSize,
    scheduling,
    clock,
    onExecution: (size) => sizes.push(size),
  });
  const outcomes = new Map<string, string>();
  const submit = (r: ExecutionRequest, o: SubmitOptions = {}) => {
    const batchSize = r.inputs.X!.shape[0]!;
    const p = s.submit(r, { batchSize, ...o });
    p.then(
      (v) => outcomes.set(r.id!, `ok:${v.result.OUT === r.inputs.X ? "own" : "other"}`),
      (e: { code: string }) => outcomes.set(r.id!, e.code),
    );
    return p;
  };
  return { clock, backend, s, sizes, submit, outcomes };
}

describe("nextBatch", () => {
  const c = (key: string, batchSize = 1, enqueuedAt = 0) => ({ key, batchSize, enqueuedAt });
  const settings = {
    maxBatchSize: 8,
    dynamic: true,
    maxQueueDelayMs: 0,
    preferredBatchSizes: [] as number[],
  };

  it("sends everything queued at once when there is no delay", () => {
    const d = nextBatch([c("a"), c("a"), c("a")], 0, settings);
    expect(d).toMatchObject({ kind: "send", batch: { length: 3 } });
  });

  it("sends one request at a time without dynamic batching", () => {
    expect(nextBatch([c("a"), c("a")], 0, { ...settings, dynamic: false })).toMatchObject({
      batch: { length: 1 },
    });
  });

  it("waits for the rest of the delay when the batch could still grow", () => {
    expect(nextBatch([c("a", 1, 0)], 3, { ...settings, maxQueueDelayMs: 10 })).toEqual({
      kind: "wait",
      ms: 7,
    });
  });

  it("counts batch elements, not requests, against maxBatchSize", () => {
    const d = nextBatch([c("a", 3), c("a", 3), c("a", 3)], 0, settings);
    expect(d.kind === "send" && d.batch.map((x) => x.batchSize)).toEqual([3, 3]);
  });

  it("skips requests that cannot be concatenated without mixing them in", () => {
    const q = [c("a"), c("b"), c("a"), c("b")];
    const d = nextBatch(q, 0, settings);
    expect(d.kind === "send" && d.batch).toEqual([q[0], q[2]]);
  });

  it("sends a preferred size at once and leaves the rest", () => {
    const q = [c("a"), c("a"), c("a"), c("a"), c("a"), c("a")];
    const d = nextBatch(q, 0, { ...settings, maxQueueDelayMs: 10, preferredBatchSizes: [2, 4] });
    expect(d.kind === "send" && d.batch.length).toBe(4);
  });

  it("returns empty for an empty queue", () => {
    expect(nextBatch([], 0, settings)).toEqual({ kind: "empty" });
  });
});

describe("dynamic batcher", () => {
  it("holds requests for maxQueueDelay, then sends them as one batch", async () => {
    const { clock, backend, submit, sizes, outcomes } = setup({ batching: { maxQueueDelayMs: 10 } });
    const all = ["a", "b", "c"].map((id) => submit(req(id)));
    clock.advance(9);
    expect(backend.batches).toEqual([]);
    clock.advance(1);
    expect(backend.batches).toEqual([["a", "b", "c"]]);
    backend.release();
    await Promise.all(all);
    expect(sizes).toEqual([3]);
    expect([...outcomes.values()]).toEqual(["ok:own", "ok:own", "ok:own"]);
  });

  it("accepts the delay in microseconds", async () => {
    const { clock, backend, submit } = setup({ batching: { maxQueueDelayUs: 2500 } });
    const a = submit(req("a"));
    clock.advance(2);
    expect(backend.batches).toEqual([]);
    clock.advance(0.5);
    expect(backend.batches).toEqual([["a"]]);
    backend.release();
    await a;
  });

  it("sends a batch of a preferred size without waiting for the delay", async () => {
    const { clock, backend, submit } = setup({
      batching: { maxQueueDelayMs: 100, preferredBatchSizes: [4] },
    });
    const all = ["a", "b", "c", "d"].map((id) => submit(req(id)));
    expect(backend.batches).toEqual([["a", "b", "c", "d"]]);
    backend.release();
    await Promise.all(all);
    expect(clock.timers).toBe(0);
  });

  it("sends a full batch at once and the remainder after the delay", async () => {
    const { clock, backend, submit, sizes } = setup({ maxBatchSize: 4, batching: { maxQueueDelayMs: 5 } });
    const first = submit(req("first"));
    clock.advance(5); // the instance is busy with "first" from here on
    const rest = ["a", "b", "c", "d", "e", "f"].map((id) => submit(req(id)));
    backend.release();
    await first;
    await flush();
    expect(backend.batches[1]).toEqual(["a", "b", "c", "d"]);
    backend.release();
    await Promise.all(rest.slice(0, 4));
    await flush();
    expect(backend.batches).toHaveLength(2); // e and f wait for more until their delay passes
    clock.advance(5);
    expect(backend.batches[2]).toEqual(["e", "f"]);
    backend.release();
    await Promise.all(rest);
    expect(sizes).toEqual([1, 4, 2]);
  });

  it("never merges more than maxBatchSize elements across multi-row requests", async () => {
    const { clock, backend, submit, sizes } = setup({ maxBatchSize: 8, batching: { maxQueueDelayMs: 1 } });
    const all = [submit(req("a", 3)), submit(req("b", 3)), submit(req("c", 3))];
    expect(backend.batches).toEqual([["a", "b"]]); // 3 + 3, and 3 more would pass 8
    backend.release();
    await Promise.all(all.slice(0, 2));
    clock.advance(1);
    expect(backend.batches[1]).toEqual(["c"]);
    backend.release();
    await Promise.all(all);
    expect(sizes).toEqual([6, 3]);
  });

  it("batches requests of different shapes separately and answers each with its own result", async () => {
    const { clock, backend, submit, outcomes } = setup({ batching: { maxQueueDelayMs: 2 } });
    const all = [
      submit(req("a1", 1, 2)),
      submit(req("b1", 1, 3)),
      submit(req("a2", 2, 2)),
      submit(req("b2", 1, 3)),
      submit(req("a3", 1, 2)),
    ];
    clock.advance(2);
    expect(backend.batches).toEqual([["a1", "a2", "a3"]]);
    backend.release();
    await flush();
    expect(backend.batches[1]).toEqual(["b1", "b2"]); // its delay has passed too
    backend.release();
    await Promise.all(all);
    expect([...outcomes.values()].every((o) => o === "ok:own")).toBe(true);
  });

  it("batches nothing without dynamic batching, even when the model has a batch dimension", async () => {
    const { backend, submit } = setup({ batching: false });
    const all = ["a", "b", "c"].map((id) => submit(req(id)));
    backend.release();
    await flush();
    backend.release();
    await flush();
    backend.release();
    await Promise.all(all);
    expect(backend.batches).toEqual([["a"], ["b"], ["c"]]);
  });

  it("dispatches to free instances in turn", async () => {
    const { backend, submit } = setup({ instances: 3, batching: false });
    const all = ["a", "b", "c", "d", "e", "f"].map((id) => submit(req(id)));
    expect(backend.byInstance).toEqual([0, 1, 2]);
    for (let i = 0; i < 3; i++) backend.release();
    await flush();
    await flush();
    expect(backend.byInstance).toEqual([0, 1, 2, 0, 1, 2]);
    for (let i = 0; i < 3; i++) backend.release();
    await Promise.all(all);
  });

  it("preserves response order across instances when asked", async () => {
    const { backend, submit } = setup({
      instances: 2,
      batching: { preserveOrdering: true },
    });
    const order: string[] = [];
    const a = submit(req("a")).then(() => order.push("a"));
    const b = submit(req("b")).then(() => order.push("b"));
    backend.release(1); // b's instance finishes first
    await flush();
    expect(order).toEqual([]);
    backend.release(0);
    await Promise.all([a, b]);
    expect(order).toEqual(["a", "b"]);
  });

  it("answers in completion order without preserveOrdering", async () => {
    const { backend, submit } = setup({ instances: 2, batching: {} });
    const order: string[] = [];
    const a = submit(req("a")).then(() => order.push("a"));
    const b = submit(req("b")).then(() => order.push("b"));
    backend.release(1);
    await b;
    backend.release(0);
    await a;
    expect(order).toEqual(["b", "a"]);
  });

  it("flushes a batch that is waiting for its delay when stopped", async () => {
    const { backend, submit, s } = setup({ batching: { maxQueueDelayMs: 1000 } });
    const all = [submit(req("a")), submit(req("b"))];
    const stopped = s.stop();
    expect(backend.batches).toEqual([["a", "b"]]);
    backend.release();
    await Promise.all(all);
    await stopped;
  });
});

describe("queue policy", () => {
  it("serves higher priority levels first; 0 and out-of-range priorities get the default level", async () => {
    const { backend, submit } = setup({
      batching: false,
      queue: { priorityLevels: 3, defaultPriorityLevel: 2 },
    });
    const busy = submit(req("busy"));
    const all = [
      submit(req("low"), { priority: 3 }),
      submit(req("default"), { priority: 0 }),
      submit(req("bogus"), { priority: 99n }),
      submit(req("high"), { priority: 1n }),
    ];
    for (let i = 0; i < 5; i++) {
      backend.release();
      await flush();
    }
    await Promise.all([busy, ...all]);
    expect(backend.batches.flat()).toEqual(["busy", "high", "default", "bogus", "low"]);
  });

  it("bounds each level's queue and rejects beyond it at once", async () => {
    const { backend, submit, outcomes } = setup({
      batching: false,
      queue: { maxSize: 1, priorityLevels: 2, priorities: { 1: { maxSize: 2 } } },
    });
    const busy = submit(req("busy"));
    const ok = [submit(req("h1"), { priority: 1 }), submit(req("h2"), { priority: 1 }), submit(req("l1"))];
    await expect(submit(req("h3"), { priority: 1 })).rejects.toMatchObject({
      code: "TB_ERR_UNAVAILABLE",
      message: expect.stringMatching(/queue is full \(2 requests waiting at priority level 1\)/),
    });
    await expect(submit(req("l2"), { priority: 2 })).rejects.toMatchObject({ code: "TB_ERR_UNAVAILABLE" });
    for (let i = 0; i < 4; i++) {
      backend.release();
      await flush();
    }
    await Promise.all([busy, ...ok]);
    expect(outcomes.get("h3")).toBe("TB_ERR_UNAVAILABLE");
    expect(backend.batches.flat()).toEqual(["busy", "h1", "h2", "l1"]);
  });

  it("rejects a request whose timeout passes in the queue and never executes it", async () => {
    const { clock, backend, submit, s } = setup({ batching: false, queue: { timeoutMs: 50 } });
    const busy = submit(req("busy"), { timeoutUs: 1e9 });
    const late = submit(req("late"));
    const rejected = expect(late).rejects.toMatchObject({
      code: "TB_ERR_DEADLINE_EXCEEDED",
      message: expect.stringMatching(/timed out in the queue/),
    });
    clock.advance(49);
    expect(s.queueDepth).toBe(1);
    clock.advance(1);
    await rejected; // at once, not when the instance frees up
    expect(s.queueDepth).toBe(0);
    backend.release();
    await busy;
    await flush();
    expect(backend.batches.flat()).toEqual(["busy"]);
  });

  it("lets the `timeout` parameter override the default only where the policy allows", async () => {
    const { clock, backend, submit, outcomes } = setup({
      batching: false,
      queue: {
        priorityLevels: 2,
        defaultPriorityLevel: 2,
        priorities: { 1: { allowTimeoutOverride: false } },
      },
    });
    const busy = submit(req("busy"));
    const overridden = submit(req("overridden"), { timeoutUs: 5000n }).catch(() => {});
    const ignored = submit(req("ignored"), { timeoutUs: 5000, priority: 1 });
    clock.advance(5);
    await flush();
    expect(outcomes.get("overridden")).toBe("TB_ERR_DEADLINE_EXCEEDED");
    backend.release();
    await busy;
    await flush();
    backend.release();
    await ignored;
    await overridden;
    expect(backend.batches.flat()).toEqual(["busy", "ignored"]);
  });

  it("runs a delayed request after the punctual ones (DELAY action)", async () => {
    const { clock, backend, submit } = setup({
      batching: false,
      queue: { timeoutMs: 10, timeoutAction: "delay" },
    });
    const busy = submit(req("busy"), { timeoutUs: 1_000_000 });
    const old = submit(req("old"));
    clock.advance(10); // "old" times out: it is delayed, not rejected
    const fresh = [
      submit(req("new1"), { timeoutUs: 1_000_000 }),
      submit(req("new2"), { timeoutUs: 1_000_000 }),
    ];
    for (let i = 0; i < 4; i++) {
      backend.release();
      await flush();
    }
    await Promise.all([busy, old, ...fresh]);
    expect(backend.batches.flat()).toEqual(["busy", "new1", "new2", "old"]);
  });

  it("answers a running request whose timeout passes at once and aborts its signal", async () => {
    const { clock, backend, submit, s } = setup({ batching: false, queue: { timeoutMs: 20 } });
    const running = submit(req("slow"));
    const rejected = expect(running).rejects.toMatchObject({
      code: "TB_ERR_DEADLINE_EXCEEDED",
      message: expect.stringMatching(/while model 'm' was executing/),
    });
    clock.advance(20);
    await rejected;
    expect(backend.signals.get("slow")?.aborted).toBe(true);
    expect(s.executing).toBe(1); // the instance is still busy until the backend returns
    backend.release();
    await s.drain();
    expect(s.executing).toBe(0);
  });

  it("honours a hard deadline (a gRPC deadline) even when the policy delays", async () => {
    const { clock, backend, submit } = setup({
      batching: false,
      queue: { timeoutMs: 1, timeoutAction: "delay" },
    });
    const busy = submit(req("busy"), { timeoutUs: 1e9 });
    const late = submit(req("late"), { deadline: clock.now() + 5 });
    const rejected = expect(late).rejects.toMatchObject({ code: "TB_ERR_DEADLINE_EXCEEDED" });
    clock.advance(5);
    await rejected;
    backend.release();
    await busy;
    expect(backend.batches.flat()).toEqual(["busy"]);
  });
});

describe("cancellation", () => {
  it("removes a cancelled request from the queue; it is never executed", async () => {
    const { clock, backend, submit, s } = setup({ batching: { maxQueueDelayMs: 5 } });
    const ac = new AbortController();
    const a = submit(req("a"));
    const b = submit(req("b", 1, 2, ac.signal));
    const cancelled = expect(b).rejects.toMatchObject({ code: "TB_ERR_CANCELLED" });
    ac.abort();
    await cancelled;
    expect(s.queueDepth).toBe(1);
    clock.advance(5);
    expect(backend.batches).toEqual([["a"]]);
    backend.release();
    await a;
  });

  it("answers a cancelled running request at once; the rest of its batch still gets results", async () => {
    const { clock, backend, submit, outcomes, s } = setup({ batching: { maxQueueDelayMs: 1 } });
    const ac = new AbortController();
    const a = submit(req("a"));
    const b = submit(req("b", 1, 2, ac.signal));
    clock.advance(1);
    expect(backend.batches).toEqual([["a", "b"]]);
    ac.abort();
    await expect(b).rejects.toMatchObject({ code: "TB_ERR_CANCELLED" });
    expect(backend.signals.get("b")?.aborted).toBe(true);
    expect(backend.signals.get("a")?.aborted).toBe(false);
    backend.release();
    await a;
    expect(outcomes.get("a")).toBe("ok:own");
    await s.drain();
  });

  it("leaves no timers behind", async () => {
    const { clock, backend, submit, s } = setup({
      batching: { maxQueueDelayMs: 5 },
      queue: { timeoutMs: 100 },
    });
    const all = ["a", "b"].map((id) => submit(req(id)));
    clock.advance(5);
    backend.release();
    await Promise.all(all);
    await s.stop();
    expect(clock.timers).toBe(0);
  });
});

describe("resolveScheduling", () => {
  it("mirrors Triton's dynamic_batching fields", () => {
    const c = resolveScheduling({
      maxBatchSize: 32,
      batching: { maxQueueDelayMs: 2, preferredBatchSizes: [16, 8] },
      queue: {
        maxSize: 10,
        timeoutUs: 500,
        priorityLevels: 2,
        priorities: { 1: { timeoutAction: "delay" } },
      },
    });
    expect(c).toMatchObject({
      dynamicBatching: true,
      maxQueueDelayUs: 2000,
      preferredBatchSizes: [8, 16],
      priorityLevels: 2,
      defaultPriorityLevel: 2,
      defaultQueuePolicy: { maxQueueSize: 10, defaultTimeoutUs: 500, timeoutAction: "REJECT" },
    });
    expect(c.priorityQueuePolicy.get(1)).toMatchObject({ timeoutAction: "DELAY", maxQueueSize: 10 });
  });

  it.each([
    [{ batching: { preferredBatchSizes: [64] } }, /larger than maxBatchSize/],
    [{ batching: { maxQueueDelayMs: 1, maxQueueDelayUs: 1000 } }, /not both/],
    [{ batching: { maxQueueDelayMs: -1 } }, /non-negative/],
    [{ queue: { maxSize: 1.5 } }, /maxSize/],
    [{ queue: { priorityLevels: 2, defaultPriorityLevel: 3 } }, /between 1 and 2/],
    [{ queue: { priorityLevels: 2, priorities: { 3: {} } } }, /levels run from 1 to 2/],
    [{ queue: { timeoutAction: "drop" } }, /"reject" or "delay"/],
    [{ maxQueueSize: 4, queue: { maxSize: 5 } }, /disagree/],
  ])("rejects bad options: %j", (options, message) => {
    expect(() => resolveScheduling({ maxBatchSize: 32, ...(options as object) }, "m")).toThrow(message);
  });
});
