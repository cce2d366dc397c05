// The traccc example's C++ tests (examples/traccc/test/tests.cpp), one vitest case each so they
// count in the summary: the per-element functions shared by the CPU loops and the CUDA kernels,
// order independence (what parallel GPU threads need), determinism, physics at mu = 20. The
// CUDA agreement cases report as skipped without a GPU; bench/gpu/traccc.sh runs them on one.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const BIN = join(import.meta.dirname, "../../examples/traccc/build/core/traccc-tests");
const names = existsSync(BIN)
  ? execFileSync(BIN, ["--list"], { encoding: "utf8" }).split("\n").filter(Boolean)
  : [];

describe("traccc C++ tests", () => {
  it("are built (npm run build:traccc)", () => {
    expect(existsSync(BIN), `${BIN} is missing: run npm run build:traccc`).toBe(true);
    expect(names.length).toBeGreaterThan(10);
  });

  for (const name of names) {
    it(name.replaceAll("_", " "), (ctx) => {
      const r = spawnSync(BIN, ["--exact", name], { encoding: "utf8", timeout: 60_000 });
      const out = `${r.stdout}${r.stderr}`;
      if (/^skip /m.test(out)) ctx.skip();
      expect(out, out).toMatch(new RegExp(`^ok +${name}$`, "m"));
      expect(r.status).toBe(0);
    });
  }
});
