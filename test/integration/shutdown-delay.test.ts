import { describe, expect, it } from "vitest";
import { simpleModel, simpleRequest } from "../helpers/models.js";
import { inferJson, startServer } from "../helpers/server.js";

describe("shutdownDelayMs", () => {
  it("reports not ready but keeps serving new connections until the delay ends", async () => {
    const server = await startServer([simpleModel], { shutdownDelayMs: 1500 });
    const base = server.urls.http as string;
    expect((await fetch(`${base}/v2/health/ready`)).status).toBe(200);
    const started = Date.now();
    const closing = server.close();
    // A fresh connection per probe: what a load balancer's health check does.
    const ready = await fetch(`${base}/v2/health/ready`, { headers: { connection: "close" } });
    expect(ready.status).toBe(400); // Triton answers 400 while not ready
    const live = await fetch(`${base}/v2/health/live`, { headers: { connection: "close" } });
    expect(live.status).toBe(200);
    const res = await inferJson(base, "simple", simpleRequest);
    expect(res.status).toBe(200);
    await closing;
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    await expect(fetch(`${base}/v2/health/live`)).rejects.toThrow();
  });

  it("closes at once by default", async () => {
    const server = await startServer([simpleModel]);
    const started = Date.now();
    await server.close();
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("refuses a negative delay", async () => {
    await expect(startServer([simpleModel], { shutdownDelayMs: -1 })).rejects.toThrow(/non-negative/);
  });
});
