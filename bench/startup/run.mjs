#!/usr/bin/env node
// Start-up to ready and idle memory (performance.md P5, P8): a JS model (≤ 150 ms, ≤ 80 MB), or
// with BENCH_MODEL=python a Python model without PyTorch (≤ 500 ms; ≤ 60 MB per worker).
// Reports, per run: process spawn → ready (node boot + import + serve), the serve() call alone,
// and RSS once ready (for Python also the worker's RSS, PSS and private anonymous memory).
// Reference: a bare node:http server's spawn → listening.
// Usage: node bench/startup/run.mjs [--runs N]      (BENCH_GRPC=0: HTTP only; BENCH_MODEL=python)
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { fmt as fmtN, median } from "../lib/common.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const runs = Number(process.argv[process.argv.indexOf("--runs") + 1]) || 10;

function time(args) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.on("exit", (code) => {
      if (code !== 0) return reject(new Error(`exit ${code}`));
      const r = JSON.parse(out);
      resolve({ ...r, spawnToReadyMs: r.readyAtMs ?? performance.now() - t0 });
    });
  });
}

const bare = `const t=performance.now();const s=require("node:http").createServer((q,r)=>r.end("{}"));s.listen(0,"127.0.0.1",()=>{process.stdout.write(JSON.stringify({serveMs:performance.now()-t,rssMb:process.memoryUsage().rss/2**20,sinceStart:performance.now()}));s.close()})`;

const a = [];
const b = [];
for (let i = 0; i < runs; i++) {
  a.push(await time([join(here, "serve-one.mjs")]));
  b.push(await time(["-e", bare]));
}
const fmt = (x) => fmtN(x, 1);
console.log(`| what | median (${runs} runs) |`);
console.log("|---|---|");
console.log(`| tensorbind: import of the package | ${fmt(median(a.map((r) => r.importMs)))} ms |`);
console.log(
  `| tensorbind: serve() to ready (one identity model) | ${fmt(median(a.map((r) => r.serveMs)))} ms |`,
);
console.log(
  `| tensorbind: process start to ready (performance.now() at ready) | ${fmt(median(a.map((r) => r.sinceProcessStartMs)))} ms |`,
);
console.log(`| bare node:http: process start to listening | ${fmt(median(b.map((r) => r.sinceStart)))} ms |`);
console.log(`| tensorbind RSS when ready | ${fmt(median(a.map((r) => r.rssMb)))} MB |`);
console.log(`| bare node:http RSS when listening | ${fmt(median(b.map((r) => r.rssMb)))} MB |`);
if (a[0]?.workerRssMb !== undefined) {
  console.log(`| Python worker RSS when ready | ${fmt(median(a.map((r) => r.workerRssMb)))} MB |`);
  console.log(`| Python worker PSS when ready | ${fmt(median(a.map((r) => r.workerPssMb)))} MB |`);
  console.log(`| Python worker private anonymous memory | ${fmt(median(a.map((r) => r.workerAnonMb)))} MB |`);
}
