import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

// The CLI counts ArrayBuffer memory in V8's global heap limit: a process that takes in 640 MB
// of buffers (as a server taking in ten 64 MiB tensors does) runs far fewer full collections.

const script = `
  const { PerformanceObserver, constants } = require("node:perf_hooks");
  let major = 0;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (e.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR) major++;
  }).observe({ entryTypes: ["gc"] });
  import(process.env.GC_MODULE).then(({ countBuffersInHeapLimit }) => {
    countBuffersInHeapLimit();
    let keep;
    for (let i = 0; i < 10240; i++) keep = new ArrayBuffer(64 * 1024); // 640 MB, 64 KiB at a time
    setTimeout(() => console.log(major), 50);
  });
`;

function majorCollections(env: Record<string, string>): number {
  const r = spawnSync(process.execPath, ["--import", "tsx", "-e", script], {
    env: { ...process.env, GC_MODULE: new URL("../../src/cli/gc.ts", import.meta.url).href, ...env },
    encoding: "utf8",
    timeout: 60_000,
  });
  expect(r.status, r.stderr).toBe(0);
  return Number(r.stdout.trim());
}

describe("garbage collection with large buffers", () => {
  it("collects the full heap far less often than V8's default", () => {
    const tuned = majorCollections({});
    const v8Default = majorCollections({ TENSORBIND_EXTERNAL_MEMORY_GC: "v8" });
    expect(v8Default).toBeGreaterThanOrEqual(5);
    expect(tuned).toBeLessThan(v8Default / 2);
  }, 120_000);
});
