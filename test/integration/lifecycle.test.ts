import { existsSync } from "node:fs";
import { connect } from "node:net";
import { describe, expect, it } from "vitest";
import type { ModelFunction } from "../../src/backends/js/function-types.js";
import { bind } from "../../src/bind.js";
import { tensor } from "../../src/core/tensor-factory.js";
import type { BindOptions } from "../../src/model/model.js";
import { connectOnce } from "../helpers/raw-http.js";
import { inferJson, startServer, waitExecuting } from "../helpers/server.js";

const slow = (name: string, ms: number): BindOptions => ({
  name,
  inputs: { X: tensor("INT32", [1]) },
  outputs: { Y: tensor("INT32", [1]) },
  fn: async ({ X }) => {
    await new Promise((r) => setTimeout(r, ms));
    return { Y: X! };
  },
});
const x = { inputs: [{ name: "X", shape: [1], datatype: "INT32", data: [7] }] };

describe("server lifecycle", () => {
  it("answers every in-flight request on close, then stops listening; close is idempotent", async () => {
    let started = 0;
    const model = slow("slow", 300);
    const server = await startServer([
      {
        ...model,
        instances: 3,
        fn: (inputs, ctx) => {
          started++;
          return (model.fn as ModelFunction<typeof inputs>)(inputs, ctx);
        },
      },
    ]);
    const base = server.urls.http!;
    const pending = [inferJson(base, "slow", x), inferJson(base, "slow", x), inferJson(base, "slow", x)];
    while (started < 3) await new Promise((r) => setTimeout(r, 5));
    const closed = server.close();
    expect(server.close()).toBe(closed);
    const results = await Promise.all(pending);
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    await closed;
    const refused = await connectOnce(base).then(
      () => "connected",
      (e: NodeJS.ErrnoException) => e.code,
    );
    expect(refused).toBe("ECONNREFUSED");
    expect(existsSync(server.runtimeDir)).toBe(false);
  });

  it("closes at once when a client holds a connection that never sent a request", async () => {
    const server = await startServer([slow("quiet", 1)], { shutdownGraceMs: 30_000 });
    const { hostname, port } = new URL(server.urls.http!);
    const idle = connect(Number(port), hostname);
    await new Promise<void>((resolve, reject) => idle.once("connect", resolve).once("error", reject));
    const closedByServer = new Promise<void>((resolve) => idle.once("close", () => resolve()));
    const t0 = performance.now();
    await server.close();
    await closedByServer;
    expect(performance.now() - t0).toBeLessThan(5_000);
  });

  it("flips readiness to false as soon as close starts, while in-flight requests finish", async () => {
    // A short delay keeps the port open, so a fresh probe can ask while close() is under way.
    const server = await startServer([slow("slow", 300)], { shutdownDelayMs: 600 });
    const base = server.urls.http!;
    expect((await fetch(`${base}/v2/health/ready`)).status).toBe(200);
    const pending = inferJson(base, "slow", x);
    await waitExecuting(server, "slow", 1);
    const closed = server.close();
    const probe = await fetch(`${base}/v2/health/ready`, { headers: { connection: "close" } });
    expect(probe.status).toBe(400);
    expect((await pending).status).toBe(200);
    await closed;
    expect(server.closed).toBe(true);
  });

  it("never answers ready to a fresh probe once close starts without a delay", async () => {
    const server = await startServer([slow("slow", 300)]);
    const base = server.urls.http!;
    const pending = inferJson(base, "slow", x);
    await waitExecuting(server, "slow", 1);
    const closed = server.close();
    const probe = await fetch(`${base}/v2/health/ready`, { headers: { connection: "close" } }).then(
      (r) => r.status,
      () => "refused",
    );
    // Refused once the port is closed; a connection accepted just before that hears "not ready".
    expect([400, "refused"]).toContain(probe);
    expect((await pending).status).toBe(200);
    await closed;
  });

  it("loads a model bound after serve() and unloads it on unbind", async () => {
    const server = await startServer([]);
    const base = server.urls.http!;
    const handle = bind(slow("late", 1), server.registry);
    for (let i = 0; i < 50 && (await fetch(`${base}/v2/models/late/ready`)).status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect((await inferJson(base, "late", x)).status).toBe(200);
    await handle.unbind();
    expect((await inferJson(base, "late", x)).status).toBe(404);
    await server.close();
  });

  it("rejects bad model definitions at bind time", () => {
    expect(() => bind({ ...slow("bad name!", 1) })).toThrow(/invalid model name/);
    expect(() => bind({ ...slow("ok", 1), version: "v2" })).toThrow(/invalid model version/);
    expect(() => bind({ ...slow("ok", 1), instances: 0 })).toThrow(/instances/);
    expect(() => bind({ name: "nospec", fn: () => ({}) } as BindOptions)).toThrow(/needs inputs and outputs/);
    expect(() => bind({ ...slow("ok", 1), inputs: { "bad name": tensor("INT32", [1]) } })).toThrow(
      /invalid input name/,
    );
  });

  it("refuses a second binding of the same name and version", async () => {
    const server = await startServer([slow("dup", 1)]);
    expect(() => bind(slow("dup", 1), server.registry)).toThrow(/already bound/);
    await server.close();
  });

  it("reports a clear error when the HTTP port is in use", async () => {
    const a = await startServer([]);
    const port = Number(new URL(a.urls.http!).port);
    await expect(startServer([], { http: port })).rejects.toThrow(/already in use/);
    await a.close();
  });

  it("cancels a queued request when its client disconnects", async () => {
    let runs = 0;
    const server = await startServer([
      {
        ...slow("one_at_a_time", 1),
        fn: async ({ X }) => {
          runs++;
          await new Promise((r) => setTimeout(r, 300));
          return { Y: X! };
        },
      },
    ]);
    const base = server.urls.http!;
    const first = inferJson(base, "one_at_a_time", x);
    await new Promise((r) => setTimeout(r, 30));
    const ac = new AbortController();
    const second = fetch(`${base}/v2/models/one_at_a_time/infer`, {
      method: "POST",
      body: JSON.stringify(x),
      signal: ac.signal,
    });
    await new Promise((r) => setTimeout(r, 30));
    ac.abort();
    await expect(second).rejects.toThrow();
    await first;
    await new Promise((r) => setTimeout(r, 400));
    expect(runs).toBe(1);
    await server.close();
  });

  it("rejects a request whose timeout parameter passes while queued", async () => {
    const server = await startServer([slow("busy", 200)]);
    const base = server.urls.http!;
    const first = inferJson(base, "busy", x);
    await new Promise((r) => setTimeout(r, 20));
    const late = await inferJson(base, "busy", { ...x, parameters: { timeout: 1000 } });
    expect(late.status).toBe(504);
    expect(late.body.error).toMatch(/timed out in the queue/);
    expect((await first).status).toBe(200);
    await server.close();
  });
});
