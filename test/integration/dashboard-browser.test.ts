import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { describe, expect, it } from "vitest";
import { CHROMIUM, CHROMIUM_FLAGS } from "../helpers/chromium.js";
import { ROOT } from "../helpers/cli.js";
import { gatedModel, simpleModel, simpleRequest } from "../helpers/models.js";
import { fakeNvidiaSmi } from "../helpers/nvidia-smi.js";
import { startServer } from "../helpers/server.js";

const ARTIFACTS = join(ROOT, "test-artifacts");
const GPU = "GPU-5a1e39c0-8b3f-4e0c-a1d2-0123456789ab";

describe("dashboard in a real browser", () => {
  it("shows the models, and the request-rate chart moves with traffic", { timeout: 90_000 }, async () => {
    expect(existsSync(CHROMIUM), `no browser at ${CHROMIUM}: apt-get install chromium`).toBe(true);
    const gated = gatedModel("waiting");
    gated.openForever();
    const profile = mkdtempSync(join(tmpdir(), "tb-chromium-"));
    // A fake nvidia-smi (an edge we do not own) so that the page shows its GPU panels too.
    const smi = fakeNvidiaSmi(profile, [
      `echo "0, ${GPU}, NVIDIA H100 80GB HBM3, 37, 81559, 20480, 312.5, 700.00"`,
    ]);
    const server = await startServer([simpleModel, gated.model], {
      metrics: 0,
      nvidiaSmi: smi,
      metricsIntervalMs: 200,
      id: "hpc-node-7",
    });
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_FLAGS,
      viewport: { width: 1400, height: 1000 },
    });
    try {
      const base = server.urls.http!;
      const page = context.pages()[0] ?? (await context.newPage());
      const problems: string[] = [];
      const foreign: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error") problems.push(m.text());
      });
      page.on("pageerror", (e) => problems.push(e.message));
      page.on("request", (r) => {
        if (!r.url().startsWith(base)) foreign.push(r.url());
      });

      await page.goto(`${base}/?interval=250`);
      const row = page.locator('#models tr[data-model="simple"]');
      await row.waitFor();
      await expect.poll(() => row.locator("td").nth(2).textContent()).toBe("ready");
      expect(await row.locator("td.io").textContent()).toContain("INPUT0 INT32[16], INPUT1 INT32[16]");
      expect(await page.locator('#models tr[data-model="waiting"]').count()).toBe(1);
      expect(await page.locator("#ready").textContent()).toBe("ready");
      expect(await page.locator("#server-id").textContent()).toBe("hpc-node-7"); // --id shows beside the brand
      expect(await page.title()).toBe("tensorbind · hpc-node-7");
      expect(await page.locator("#metrics-link a").getAttribute("href")).toBe(server.urls.metrics);
      // No traffic yet: the chart has nothing above zero.
      await expect.poll(() => page.locator("body").getAttribute("data-updates")).not.toBeNull();
      expect(Number((await page.locator("#chart-rate").getAttribute("data-max")) ?? 0)).toBe(0);

      // Traffic for ~2.5 s, 4 requests at a time.
      const until = Date.now() + 2500;
      let sent = 0;
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (Date.now() < until) {
            const res = await fetch(`${base}/v2/models/simple/infer`, {
              method: "POST",
              body: JSON.stringify(simpleRequest),
            });
            expect(res.status).toBe(200);
            await res.arrayBuffer();
            sent++;
          }
        }),
      );
      await expect
        .poll(async () => Number(await page.locator("#chart-rate").getAttribute("data-max")), {
          timeout: 10_000,
        })
        .toBeGreaterThan(0);
      await expect.poll(async () => Number(await row.locator("td.success").textContent())).toBe(sent);
      expect(await page.locator("#legend-rate").textContent()).toContain("simple");
      expect(Number(await page.locator("#chart-batch").getAttribute("data-total"))).toBeGreaterThan(0);
      // GPU load, when there are GPUs.
      await page.locator(`#gpus tr[data-gpu="${GPU}"]`).waitFor();
      expect(await page.locator("#figure-gpu").isVisible()).toBe(true);
      expect(await page.locator("#t-gpu").textContent()).toBe("37%");
      expect(await page.locator(`#gpus tr[data-gpu="${GPU}"]`).textContent()).toContain(
        "20.0 GiB / 79.6 GiB",
      );

      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, "dashboard.png"), fullPage: true });
      expect(problems).toEqual([]);
      expect(foreign).toEqual([]);
    } finally {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
      await server.close();
    }
  });
});
