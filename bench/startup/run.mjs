#!/usr/bin/env node
// Start-up to ready for a JS model (performance.md P5: ≤ 150 ms) and idle RSS (P8: ≤ 80 MB).
// Reports, per run: process spawn → ready (node boot + import + serve), the serve() call alone,
// and RSS once ready. Reference: a bare node:http server's spawn → listening.
// Usage: node bench/startup/run.mjs [--runs N]      (BENCH_GRPC=0: HTTP only)
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

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

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const a = [];
const b = [];
for (let i = 0; i < runs; i++) {
  a.push(await time([join(here, "serve-one.mjs")]));
  b.push(await time(["-e", bare]));
}
const fmt = (x) => x.toFixed(1);
console.log(`| what | median (${runs} runs) |`);
console.log("|---|---|");
console.log(`| tensorbind: import of the package | ${fmt(median(a.map((r) => r.importMs)))} ms |`);
console.log(
  `| tensorbind: serve() to ready (HTTP + gRPC, one JS model) | ${fmt(median(a.map((r) => r.serveMs)))} ms |`,
);
console.log(
  `| tensorbind: process start to ready (performance.now() at ready) | ${fmt(median(a.map((r) => r.sinceProcessStartMs)))} ms |`,
);
console.log(`| bare node:http: process start to listening | ${fmt(median(b.map((r) => r.sinceStart)))} ms |`);
console.log(`| tensorbind RSS when ready | ${fmt(median(a.map((r) => r.rssMb)))} MB |`);
console.log(`| bare node:http RSS when listening | ${fmt(median(b.map((r) => r.rssMb)))} MB |`);
