import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ASSETS_DIR } from "../../src/dashboard/handler.js";
import { jsonOf } from "../helpers/json.js";
import { simpleModel, simpleRequest } from "../helpers/models.js";
import { inferJson, startServer } from "../helpers/server.js";

describe("dashboard page", () => {
  it("serves the page and its assets from the package, with a same-origin-only policy", async () => {
    const server = await startServer([simpleModel]);
    try {
      const base = server.urls.http!;
      const page = await fetch(`${base}/`);
      expect(page.status).toBe(200);
      expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(page.headers.get("content-security-policy")).toMatch(/default-src 'none'; script-src 'self'/);
      const html = await page.text();
      expect(html).toContain('<script src="/dashboard/dashboard.js" defer></script>');
      for (const [path, type] of [
        ["/dashboard/dashboard.js", "text/javascript; charset=utf-8"],
        ["/dashboard/dashboard.css", "text/css; charset=utf-8"],
        ["/dashboard/favicon.svg", "image/svg+xml"],
      ] as const) {
        const res = await fetch(`${base}${path}`);
        expect(res.status).toBe(200);
        expect(res.headers.get("content-type")).toBe(type);
        expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(100);
      }
      const head = await fetch(`${base}/`, { method: "HEAD" });
      expect(head.status).toBe(200);
      expect(await head.text()).toBe("");
      // The KServe routes are untouched; unknown pages are still 404 with a JSON error.
      expect((await fetch(`${base}/v2/health/ready`)).status).toBe(200);
      const missing = await fetch(`${base}/dashboard/nope.js`);
      expect(missing.status).toBe(404);
      expect((await jsonOf(missing)).error).toMatch(/no route/);
      expect((await fetch(`${base}/`, { method: "POST", body: "x" })).status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it("references nothing outside the server (works offline, no CDN)", () => {
    for (const file of readdirSync(ASSETS_DIR)) {
      const text = readFileSync(join(ASSETS_DIR, file), "utf8");
      // An SVG's xmlns is a namespace name, not something fetched.
      const urls = [...text.matchAll(/(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}[^\s"')]*/gi)].map((m) => m[0]);
      expect(
        urls.filter((u) => u !== "http://www.w3.org/2000/svg"),
        file,
      ).toEqual([]);
      expect(text, file).not.toMatch(/@import|<link[^>]+href="(?!\/dashboard\/)/);
    }
  });

  it("serves a snapshot with each model's definition, state and counters", async () => {
    const server = await startServer([simpleModel], { metrics: false });
    try {
      const base = server.urls.http!;
      for (let i = 0; i < 3; i++) expect((await inferJson(base, "simple", simpleRequest)).status).toBe(200);
      const res = await fetch(`${base}/dashboard/api/snapshot`);
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-control")).toBe("no-store");
      const snap = await jsonOf(res);
      expect(snap.server).toMatchObject({ id: "tensorbind", ready: true });
      expect(snap.server.urls.http).toBe(base);
      const simple = snap.models.find((m: { name: string }) => m.name === "simple");
      expect(simple).toMatchObject({
        version: "1",
        state: "READY",
        backend: "js",
        instances: 1,
        max_batch_size: 8,
        success: 3,
        fail: 0,
        inference_count: 3,
        execution_count: 3,
        pending: 0,
      });
      expect(simple.inputs).toEqual([
        { name: "INPUT0", datatype: "INT32", shape: [16] },
        { name: "INPUT1", datatype: "INT32", shape: [16] },
      ]);
      expect(simple.latency).toHaveLength(snap.buckets.duration_s.length + 1);
      expect(simple.latency.reduce((a: number, b: number) => a + b, 0)).toBe(3);
      expect(simple.batch[0]).toBe(3); // three executions of batch size 1
      expect(snap.cpu.memory_total_bytes).toBeGreaterThan(0);
      expect(snap.gpus).toEqual(expect.any(Array));
    } finally {
      await server.close();
    }
  });

  it("is off with dashboard: false", async () => {
    const server = await startServer([simpleModel], { dashboard: false });
    try {
      const base = server.urls.http!;
      expect((await fetch(`${base}/`)).status).toBe(404);
      expect((await fetch(`${base}/dashboard/api/snapshot`)).status).toBe(404);
      expect((await fetch(`${base}/v2/health/ready`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});
