// Screenshot of a Grafana dashboard in headless Chromium (Debian's chromium driven by
// playwright-core, with the flags of test/helpers/chromium.ts; TENSORBIND_CHROMIUM points
// at another). Used by bench/exatrkx/monitor.py --grafana.
//   node bench/exatrkx/grafana-shot.mjs URL PNG [WIDTH] [HEIGHT]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [url, png, width = "1600", height = "2000"] = process.argv.slice(2);
if (!url || !png) {
  console.error("usage: node bench/exatrkx/grafana-shot.mjs URL PNG [WIDTH] [HEIGHT]");
  process.exit(2);
}
const CHROMIUM = process.env.TENSORBIND_CHROMIUM ?? "/usr/bin/chromium";
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const profile = mkdtempSync(join(tmpdir(), "grafana-shot-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM,
  headless: true,
  args: FLAGS,
  viewport: { width: Number(width), height: Number(height) },
});
try {
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(url, { timeout: 120_000 });
  // Panels query after the variables resolve: wait for the panels, then until none is loading.
  await page.locator(".react-grid-item").first().waitFor({ timeout: 120_000 });
  const loading = "[aria-label='Panel loading bar'], .panel-loading";
  await page.waitForFunction((sel) => document.querySelectorAll(sel).length === 0, loading, {
    timeout: 60_000,
  });
  await page.waitForTimeout(3000);
  const empty = await page.$$eval("[data-testid*='Panel header'], .panel-container", (panels) =>
    panels
      .filter((p) => /No data/.test(p.textContent ?? ""))
      .map((p) => p.querySelector("h2, .panel-title")?.textContent?.trim() ?? "?"),
  );
  if (empty.length) console.log(`panels without data: ${empty.join(", ")}`);
  await page.screenshot({ path: png });
  console.log(`wrote ${png}`);
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
