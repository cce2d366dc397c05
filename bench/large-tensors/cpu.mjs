#!/usr/bin/env node
// bench/large-tensors/cpu.mjs: the server's CPU time and minor page faults per 64 MiB request,
// model by model (bench/large-tensors/models.ts), from /proc/<pid>/stat before and after a fixed
// number of sequential requests. Unlike req/s these barely move with the load of other jobs on a
// shared machine, so they show what a change costs or saves per request.
//
//   node bench/large-tensors/cpu.mjs [--rounds 3] [--requests 8] [--bytes 67108864] [--models a,b]
import { readFileSync } from "node:fs";
import http from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { fmt, log, machineLine, median, REPO, requireFiles, workDir } from "../lib/common.mjs";
import { pinning, SERVER_CPU, startServer, tensorbindServe } from "../lib/procs.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const { values: o } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    requests: { type: "string", default: "8" },
    bytes: { type: "string", default: String(64 << 20) },
    models: { type: "string", default: "native_identity_copy,native_identity,python_identity" },
  },
});
const BYTES = Number(o.bytes);
const MODELS = o.models.split(",");
const { pin } = pinning();
requireFiles([
  ["dist/ (npm run build)", "dist/index.js"],
  [
    "bench/native-identity addon (run bench/large-tensors/run.mjs once)",
    "bench/native-identity/build/Release/identity.node",
  ],
]);

const work = workDir("tb-large-cpu-");
const ready = join(work, "tb.json");
const tb = await startServer({
  argv: pin(
    SERVER_CPU,
    tensorbindServe({
      models: join(HERE, "models.ts"),
      readyFile: ready,
      grpc: 0,
      metrics: 0,
      extra: ["--max-body-bytes", String(BYTES + (1 << 20))],
    }),
  ),
  env: { ...process.env, TENSORBIND_PYTHON: process.env.TENSORBIND_PYTHON ?? join(REPO, ".venv/bin/python") },
  readyFile: ready,
  timeoutMs: 60_000,
  name: "tensorbind",
});

const TICK_MS = 1000 / 100; // USER_HZ
/** [minor faults, user ms, system ms] of the whole server process (all its threads). */
function stat(pid) {
  const s = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
  return [Number(f[7]), Number(f[11]) * TICK_MS, Number(f[12]) * TICK_MS];
}

const N = BYTES / 4;
const head = Buffer.from(
  JSON.stringify({
    inputs: [{ name: "INPUT0", datatype: "FP32", shape: [1, N], parameters: { binary_data_size: BYTES } }],
    outputs: [{ name: "OUTPUT0", parameters: { binary_data: true } }],
  }),
);
const payload = Buffer.alloc(BYTES, 7);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const one = (model) =>
  new Promise((resolve, reject) => {
    const req = http.request(
      new URL(`/v2/models/${model}/infer`, tb.info.http),
      {
        method: "POST",
        agent,
        headers: { "Content-Length": head.length + BYTES, "Inference-Header-Content-Length": head.length },
      },
      (res) => {
        let got = 0;
        res.on("data", (c) => (got += c.length));
        res.on("end", () =>
          res.statusCode === 200 && got > BYTES
            ? resolve()
            : reject(new Error(`${model}: ${res.statusCode}`)),
        );
      },
    );
    req.on("error", reject);
    req.write(head);
    req.end(payload);
  });

let peakRss = Number.NaN;
const rows = Object.fromEntries(MODELS.map((m) => [m, { faults: [], user: [], sys: [] }]));
try {
  for (let r = 0; r < Number(o.rounds); r++) {
    for (const m of MODELS) {
      await one(m); // unmeasured: idle pools are trimmed after 2 s while the other models run
      const a = stat(tb.pid);
      for (let i = 0; i < Number(o.requests); i++) await one(m);
      const b = stat(tb.pid);
      const k = Number(o.requests);
      rows[m].faults.push((b[0] - a[0]) / k);
      rows[m].user.push((b[1] - a[1]) / k);
      rows[m].sys.push((b[2] - a[2]) / k);
      log(
        `round ${r + 1}: ${m} ${fmt((b[0] - a[0]) / k)} faults, ${fmt((b[1] - a[1] + b[2] - a[2]) / k, 1)} ms CPU per request`,
      );
    }
  }
  const status = readFileSync(`/proc/${tb.pid}/status`, "utf8");
  peakRss = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN) / 1024;
} finally {
  agent.destroy();
  await tb.stop();
}

console.log(`## Server CPU and page faults per ${BYTES >> 20} MiB request (bench/large-tensors/cpu.mjs)\n`);
console.log(
  `- ${machineLine()}; server on CPU ${SERVER_CPU}; TENSORBIND_EXTERNAL_MEMORY_GC=${process.env.TENSORBIND_EXTERNAL_MEMORY_GC ?? "(unset)"}; server peak RSS ${fmt(peakRss)} MB`,
);
console.log(
  `- \`node bench/large-tensors/cpu.mjs --rounds ${o.rounds} --requests ${o.requests} --bytes ${BYTES}\`\n`,
);
console.log("| model | minor faults / request | user ms / request | system ms / request |");
console.log("|---|---|---|---|");
for (const m of MODELS) {
  const x = rows[m];
  console.log(`| ${m} | ${fmt(median(x.faults))} | ${fmt(median(x.user), 1)} | ${fmt(median(x.sys), 1)} |`);
}
