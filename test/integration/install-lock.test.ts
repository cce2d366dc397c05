// A newcomer's first command on a fresh clone is `npm ci`: it must accept package.json and
// package-lock.json as committed (with every platform's optional biome package in the lock).
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "../helpers/cli.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** `npm ci --dry-run` in a fresh folder holding only the two files: it resolves the lock without downloading. */
function npmCiDryRun(lock: string): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), "tb-npmci-"));
  dirs.push(dir);
  copyFileSync(join(ROOT, "package.json"), join(dir, "package.json"));
  writeFileSync(join(dir, "package-lock.json"), lock);
  const r = spawnSync("npm", ["ci", "--dry-run", "--ignore-scripts", "--no-audit", "--no-fund"], {
    cwd: dir,
    encoding: "utf8",
    timeout: 60_000,
  });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe("npm ci on a fresh clone", () => {
  it("accepts the committed lock file", () => {
    const r = npmCiDryRun(readFileSync(join(ROOT, "package-lock.json"), "utf8"));
    expect(r.output).not.toContain("npm error");
    expect(r.status).toBe(0);
  });

  it("would fail if biome's optional platform packages were missing from the lock (the check is real)", () => {
    const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as {
      packages: Record<string, unknown>;
    };
    const platform = Object.keys(lock.packages).filter((k) => k.startsWith("node_modules/@biomejs/cli-"));
    expect(platform).toContain("node_modules/@biomejs/cli-linux-x64");
    expect(platform).toContain("node_modules/@biomejs/cli-linux-arm64");
    for (const k of platform) delete lock.packages[k];
    const r = npmCiDryRun(JSON.stringify(lock));
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/in sync|Missing: @biomejs/);
  });

  it("is what CI and the demo use (npm install would hide a stale lock)", () => {
    expect(readFileSync(join(ROOT, ".ci/run"), "utf8")).toMatch(/^npm ci\b/m);
    expect(readFileSync(join(ROOT, "scripts/demo.sh"), "utf8")).toContain("npm ci");
    expect(readFileSync(join(ROOT, ".ci/run"), "utf8")).not.toMatch(/^npm install\b/m);
  });
});
