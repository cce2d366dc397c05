#!/usr/bin/env node
// bench/json-identity/server-cpu.mjs: the server's own CPU time per JSON identity request
// (utime + stime of the tensorbind process over a closed loop at concurrency 8; a Python model's
// worker process is not counted), for one or more checkouts side by side, alternating. On a
// shared machine this is steadier than req/s, which swings with the other tenants' load.
//
//   node bench/json-identity/server-cpu.mjs [--roots DIR,DIR] [--model python|js] [--elements 262144]
//        [--rounds 2] [--seconds 8]
// --roots: checkouts built with npm run build and build:native (default: this one).
// python: the P13 Python identity (bench/json-identity/models.ts); js: examples/quickstart's identity_fp32.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { REPO, workDir } from "../lib/common.mjs";
import { closedLoop, identityRequest, inferTarget, percentile } from "../lib/kserve-load.mjs";
import { startServer, tensorbindServe } from "../lib/procs.mjs";

const { values: opt } = parseArgs({
  options: {
    roots: { type: "string", default: REPO },
    model: { type: "string", default: "python" },
    elements: { type: "string", default: "262144" },
    rounds: { type: "string", default: "2" },
    seconds: { type: "string", default: "8" },
  },
});
const n = Number(opt.elements);
const values = Float32Array.from({ length: n }, (_, i) => (i % 1000) * 0.25 - 100.5);
const request = identityRequest("json", values);
const dir = workDir("tb-json-cpu-");

async function measure(root, round) {
  const readyFile = join(dir, `ready-${round}-${Math.random()}.json`);
  const python = opt.model === "python";
  const s = await startServer({
    argv: tensorbindServe({
      root,
      models: join(root, python ? "bench/json-identity/models.ts" : "examples/quickstart/models.ts"),
      readyFile,
      logLevel: "warn",
      extra: ["--allow-metrics", "false"],
    }),
    env: { ...process.env, TENSORBIND_PYTHON: join(REPO, ".venv/bin/python") },
    readyFile,
    timeoutMs: 60_000,
  });
  const cpuMs = () => {
    const f = readFileSync(`/proc/${s.pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(f[11]) + Number(f[12])) * 10; // clock ticks of 10 ms
  };
  try {
    const t = inferTarget(s.info.http, python ? "identity" : "identity_fp32", request, 8);
    await closedLoop(t.once, { ms: 2000, concurrency: 8, record: false });
    const c0 = cpuMs();
    const r = await closedLoop(t.once, { ms: Number(opt.seconds) * 1000, concurrency: 8 });
    const cpu = cpuMs() - c0;
    t.close();
    const lat = r.lat.map((x) => x / 1e3);
    console.log(
      `| ${root} | ${round + 1} | ${(lat.length / r.seconds).toFixed(1)} | ${percentile(lat, 50).toFixed(1)} | ${((cpu * 1000) / lat.length).toFixed(0)} |`,
    );
  } finally {
    await s.stop();
  }
}

console.log(`${opt.model} identity, ${n} FP32 as JSON (${request.body.length} B), concurrency 8\n`);
console.log("| checkout | round | req/s | p50 ms | server CPU µs/request |");
console.log("|---|---:|---:|---:|---:|");
for (let round = 0; round < Number(opt.rounds); round++)
  for (const root of opt.roots.split(",")) await measure(root, round);
