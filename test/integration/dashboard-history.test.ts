// What a newcomer sees when opening the dashboard of a server that has been busy: charts already
// drawn from the server's history, one colour per model, failures per model on the rate chart,
// and time axes whose unit (µs for a fast model) matches the caption.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { describe, expect, it } from "vitest";
import { tensor } from "../../src/core/tensor-factory.js";
import { CHROMIUM, CHROMIUM_FLAGS } from "../helpers/chromium.js";
import { ROOT } from "../helpers/cli.js";
import { startServer } from "../helpers/server.js";

// Runs in the page (the test's TypeScript has no DOM library).
declare const getComputedStyle: (el: unknown) => { backgroundColor: string; borderLeftColor: string };

const spec = { inputs: { X: tensor("FP32", [2]) }, outputs: { Y: tensor("FP32", [2]) } };
const body = JSON.stringify({ inputs: [{ name: "X", datatype: "FP32", shape: [2], data: [1, 2] }] });

describe("dashboard opened on a busy server", () => {
  it("starts with history, distinct model colours, failures per model, and consistent units", {
    timeout: 90_000,
  }, async () => {
    const server = await startServer([
      { name: "alpha", ...spec, fn: ({ X }) => ({ Y: X! }) },
      { name: "beta", ...spec, fn: ({ X }) => ({ Y: X! }) },
      {
        name: "gamma",
        ...spec,
        fn: () => {
          throw new Error("gamma always fails");
        },
      },
    ]);
    const profile = mkdtempSync(join(tmpdir(), "tb-chromium-"));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_FLAGS,
    });
    try {
      const base = server.urls.http!;
      // Three seconds of traffic before anyone looks.
      const until = Date.now() + 3000;
      while (Date.now() < until) {
        await Promise.all(
          ["alpha", "beta", "gamma"].map((m) =>
            fetch(`${base}/v2/models/${m}/infer`, { method: "POST", body }).then((r) => r.arrayBuffer()),
          ),
        );
      }
      const page = context.pages()[0] ?? (await context.newPage());
      const problems: string[] = [];
      page.on("pageerror", (e) => problems.push(e.message));
      await page.goto(`${base}/?interval=1000`);
      // The first render already has the past: no waiting for new traffic.
      await page.waitForSelector("body[data-updates]");
      expect(Number(await page.locator("body").getAttribute("data-history"))).toBeGreaterThan(1);
      expect(Number(await page.locator("#chart-rate").getAttribute("data-max"))).toBeGreaterThan(0);

      // One colour per model, the same in the legend and the table.
      // The swatch of the legend entry whose label is exactly `label`.
      const swatch = (label: string) =>
        page.locator("#legend-rate").evaluate((el, label) => {
          for (const s of el.querySelectorAll("span")) {
            if (s.childNodes[1]?.textContent === label)
              return getComputedStyle(s.querySelector("i")!).backgroundColor;
          }
          return null;
        }, label);
      const colours = await Promise.all(["alpha", "beta", "gamma"].map(swatch));
      expect(new Set(colours).size).toBe(3);
      const border = await page
        .locator('#models tr[data-model="beta"] td')
        .first()
        .evaluate((el) => getComputedStyle(el).borderLeftColor);
      expect(border).toBe(colours[1]);

      // Failures drawn per model, in the failing model's colour.
      expect(await page.locator("#chart-rate").getAttribute("data-failing")).toBe("gamma");
      expect(await swatch("gamma failures")).toBe(colours[2]);

      // The latency axis and its caption agree on one unit, the one that suits the values
      // (µs when everything is under a millisecond, as a JS identity often is).
      const unit = await page.locator("#chart-latency").getAttribute("data-unit");
      const maxMs = Number(await page.locator("#chart-latency").getAttribute("data-max"));
      expect(unit).toBe(maxMs * 1.1 <= 1 ? "µs" : "ms");
      expect(await page.locator("#unit-latency").textContent()).toBe(unit);
      expect(await page.locator("#unit-queue").textContent()).toBe(
        await page.locator("#chart-queue").getAttribute("data-unit"),
      );
      mkdirSync(join(ROOT, "test-artifacts"), { recursive: true });
      await page.screenshot({ path: join(ROOT, "test-artifacts/dashboard-history.png"), fullPage: true });
      expect(problems).toEqual([]);
    } finally {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
      await server.close();
    }
  });
});
