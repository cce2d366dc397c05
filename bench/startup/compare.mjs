#!/usr/bin/env node
// Start-up of this checkout against another one (a commit before a change), side by side, A B A B:
//   serve: BENCH_MODEL=python's serve-one.mjs in each checkout — serve() to ready and process start to ready;
//   cli:   spawn of `tensorbind serve bench/python-vs-pytriton/models.ts` (HTTP + gRPC + metrics) to its
//          ready file, optionally pinned to one CPU as bench/python-vs-pytriton pins its servers.
// The other checkout needs its own dist/ and native addon (npm run build && npm run build:native).
//
//   node bench/startup/compare.mjs --base ../old-checkout [--runs 5] [--mode serve,cli] [--pin]
//   --base-env K=V (repeatable): set for the base's processes only, e.g. --base . --base-env TENSORBIND_PYTHON_PREWARM=0
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { fmt, median, REPO } from "../lib/common.mjs";
import { pinning, SERVER_CPU, startServer, tensorbindServe } from "../lib/procs.mjs";

const { values: opt } = parseArgs({
  options: {
    base: { type: "string" },
    runs: { type: "string", default: "5" },
    mode: { type: "string", default: "serve,cli" },
    pin: { type: "boolean", default: false },
    "base-env": { type: "string", multiple: true, default: [] },
  },
});
if (opt.base === undefined) throw new Error("--base <other checkout> is needed");
const roots = { base: resolve(opt.base), this: REPO };
const runs = Number(opt.runs);
const modes = opt.mode.split(",");
const { on: pinned, pin } = pinning(opt.pin);
const python = process.env.TENSORBIND_PYTHON ?? join(REPO, ".venv/bin/python");
const envOf = {
  base: {
    ...process.env,
    ...Object.fromEntries(opt["base-env"].map((kv) => kv.split(/=(.*)/s).slice(0, 2))),
  },
  this: process.env,
};
const work = mkdtempSync(join(tmpdir(), "tb-startup-"));

function serveOne(root, env) {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [join(root, "bench/startup/serve-one.mjs")], {
      env: { ...env, BENCH_MODEL: "python", TENSORBIND_PYTHON: python },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.on("exit", (code) =>
      code === 0 ? res(JSON.parse(out)) : rej(new Error(`serve-one exit ${code}`)),
    );
  });
}

async function cliOne(root, env, i) {
  const readyFile = join(work, `ready-${i}.json`);
  const s = await startServer({
    argv: pin(
      SERVER_CPU,
      tensorbindServe({
        root,
        models: join(root, "bench/python-vs-pytriton/models.ts"),
        metrics: 0,
        readyFile,
      }),
    ),
    env: { ...env, TENSORBIND_PYTHON: python },
    readyFile,
    timeoutMs: 60_000,
    name: "tensorbind serve",
  });
  await s.stop();
  return s.startupMs;
}

const load0 = loadavg()[0];
const rows = [];
const table = (what, a, b) => {
  const ratio = median(a) / median(b);
  rows.push(
    `| ${what} | ${a.map((x) => fmt(x)).join(", ")} | **${fmt(median(a))}** | ${b.map((x) => fmt(x)).join(", ")} | **${fmt(median(b))}** | ${fmt(ratio, 2)}× |`,
  );
};
try {
  if (modes.includes("serve")) {
    const r = { base: [], this: [] };
    for (let i = 0; i < runs; i++)
      for (const k of ["base", "this"]) r[k].push(await serveOne(roots[k], envOf[k]));
    table(
      "serve() to ready, Python model, HTTP + gRPC (ms)",
      r.base.map((x) => x.serveMs),
      r.this.map((x) => x.serveMs),
    );
    table(
      "process start to ready (ms)",
      r.base.map((x) => x.sinceProcessStartMs),
      r.this.map((x) => x.sinceProcessStartMs),
    );
  }
  if (modes.includes("cli")) {
    const r = { base: [], this: [] };
    for (let i = 0; i < runs; i++)
      for (const k of ["base", "this"]) r[k].push(await cliOne(roots[k], envOf[k], `${k}-${i}`));
    table(`CLI spawn to ready file${pinned ? ", pinned to one CPU" : ""} (ms)`, r.base, r.this);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
console.log(
  `- load average ${load0.toFixed(2)} at start, ${loadavg()[0].toFixed(2)} at end; ${runs} runs, A B alternating`,
);
console.log(`- base: ${roots.base} ${opt["base-env"].join(" ")}; this: ${roots.this}\n`);
console.log("| what | base runs | base median | this runs | this median | base / this |");
console.log("|---|---|---|---|---|---|");
for (const r of rows) console.log(r);
