#!/usr/bin/env node
// bench/json-identity (P13): 1 MiB FP32 identity through a Python model, sent as KServe v2 JSON
// (`data` arrays) by one client at concurrency 8, against MLServer with a custom runtime that
// returns its input — side by side, alternating, the same client for all. Also tensorbind with
// --workers 2 (JSON parsed and formatted on two event loops).
//
//   node bench/json-identity/run.mjs [--mlserver /path/to/venv/bin/mlserver] [--rounds 3] [--seconds 8]
//
// MLServer is not a dependency: install it in a venv of its own (python3 -m venv /tmp/mls &&
// /tmp/mls/bin/pip install mlserver "uvloop<0.22") and pass its `mlserver` executable. Needs npm run build.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { fmt, log, machineLine, median, REPO, requireFiles, workDir } from "../lib/common.mjs";
import { closedLoop, identityRequest, inferTarget, percentile } from "../lib/kserve-load.mjs";
import { startServer, tensorbindServe } from "../lib/procs.mjs";

const { values: opt } = parseArgs({
  options: {
    mlserver: { type: "string", default: "mlserver" },
    rounds: { type: "string", default: "3" },
    seconds: { type: "string", default: "8" },
    concurrency: { type: "string", default: "8" },
    elements: { type: "string", default: String(262144) }, // 1 MiB of FP32
    python: { type: "string", default: join(REPO, ".venv/bin/python") },
    workers: { type: "string", default: "1,2" },
  },
});
requireFiles([["dist/ (npm run build)", "dist/cli/main.js"]]);
const rounds = Number(opt.rounds);
const ms = Number(opt.seconds) * 1000;
const concurrency = Number(opt.concurrency);
const values = Float32Array.from({ length: Number(opt.elements) }, (_, i) => (i % 1000) * 0.25 - 100.5);
const request = identityRequest("json", values);
const dir = workDir("tb-json-");
log(`request body ${(request.body.length / 2 ** 20).toFixed(2)} MiB of JSON`);

async function tensorbind(workers) {
  const readyFile = join(dir, `ready-${workers}.json`);
  const s = await startServer({
    argv: tensorbindServe({
      models: join(REPO, "bench/json-identity/models.ts"),
      readyFile,
      logLevel: "warn",
      extra: ["--allow-metrics", "false", "--workers", String(workers)],
    }),
    env: { ...process.env, TENSORBIND_PYTHON: opt.python },
    readyFile,
    timeoutMs: 60_000,
  });
  return { stop: s.stop, url: s.info.http, model: "identity" };
}

async function mlserver() {
  const md = join(dir, "mlserver");
  mkdirSync(join(md, "identity"), { recursive: true });
  const port = 18080 + Math.floor(Math.random() * 1000);
  writeFileSync(
    join(md, "settings.json"),
    JSON.stringify({ http_port: port, grpc_port: port + 1, metrics_port: port + 2, debug: false }),
  );
  writeFileSync(
    join(md, "identity", "model-settings.json"),
    JSON.stringify({ name: "identity", implementation: "identity_runtime.Identity" }),
  );
  const s = await startServer({
    argv: [opt.mlserver, "start", md],
    env: { ...process.env, PYTHONPATH: join(REPO, "bench/json-identity") },
    readyUrl: `http://127.0.0.1:${port}/v2/models/identity/ready`,
    timeoutMs: 90_000,
    detached: true,
  });
  return { stop: s.stop, url: `http://127.0.0.1:${port}`, model: "identity" };
}

const servers = {
  ...Object.fromEntries(
    opt.workers.split(",").map((w) => [`tensorbind w=${w}`, () => tensorbind(Number(w))]),
  ),
  mlserver,
};
const results = Object.fromEntries(Object.keys(servers).map((k) => [k, []]));

async function measure(name) {
  const s = await servers[name]();
  try {
    const t = inferTarget(s.url, s.model, request, concurrency);
    // The answer must be the input: checked once per run.
    const check = await fetch(`${s.url}/v2/models/${s.model}/infer`, {
      method: "POST",
      headers: request.headers,
      body: request.body,
    });
    const out = (await check.json()).outputs?.[0]?.data;
    if (!Array.isArray(out) || out.length !== values.length || out[7] !== values[7])
      throw new Error(`${name}: wrong answer`);
    await closedLoop(t.once, { ms: 2000, concurrency, record: false });
    const r = await closedLoop(t.once, { ms, concurrency });
    t.close();
    const res = {
      rps: r.lat.length / r.seconds,
      p50: percentile(r.lat, 50) / 1e3,
      p99: percentile(r.lat, 99) / 1e3,
      errors: r.errors,
    };
    log(
      `${name}: ${fmt(res.rps, 1)} req/s, p50 ${fmt(res.p50, 1)} ms, p99 ${fmt(res.p99, 1)} ms, errors ${res.errors}`,
    );
    results[name].push(res);
  } finally {
    await s.stop();
  }
}

for (let i = 0; i < rounds; i++) {
  const order = Object.keys(servers);
  if (i % 2) order.reverse();
  for (const name of order) await measure(name);
}

const ml = results.mlserver;
console.log(`# P13 — 1 MiB FP32 JSON identity through a Python model, concurrency ${concurrency}`);
console.log(`${machineLine()}; ${rounds} rounds of ${opt.seconds} s each, alternating; no CPU pinning\n`);
console.log(
  "| server | req/s (median) | per round | p50 ms | p99 ms | p99/p50 | / MLServer (median of rounds) |",
);
console.log("|---|---:|---|---:|---:|---:|---:|");
for (const [name, rs] of Object.entries(results)) {
  const ratio = median(rs.map((r, i) => r.rps / (ml[i]?.rps ?? Number.NaN)));
  const p50 = median(rs.map((r) => r.p50));
  const p99 = median(rs.map((r) => r.p99));
  console.log(
    `| ${name} | ${fmt(median(rs.map((r) => r.rps)), 1)} | ${rs.map((r) => fmt(r.rps, 1)).join(", ")} | ${fmt(p50, 1)} | ${fmt(p99, 1)} | ${fmt(p99 / p50, 2)} | ${name === "mlserver" ? "1" : fmt(ratio, 2)} |`,
  );
}
