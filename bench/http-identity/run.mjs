#!/usr/bin/env node
// bench/http-identity: tensorbind's JS identity model (identity_fp32 over HTTP) against a
// bare node:http server that parses the same JSON and echoes it (bare-server.mjs), side by
// side, A B A B ..., under the same client. Also start-up to ready of both. Target P3 in
// docs/PERFORMANCE.md: tensorbind / bare >= 0.6.
//
//   node bench/http-identity/run.mjs            full run (a few minutes)
//   node bench/http-identity/run.mjs --smoke    ~20 s, to keep it working in CI
//
// Clients: perf_analyzer (-i http, .venv/bin/perf_analyzer from scripts/setup-python.sh,
// or $PERF_ANALYZER) and loadgen.mjs (a tiny closed-loop node:http client). When taskset and
// >= 2 CPUs are available, servers run on CPU 0 and the client on CPU 1.
// Prints a markdown report on stdout; progress goes to stderr.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { fmt, log, machineLine, median, REPO, requireFiles, sleep, workDir } from "../lib/common.mjs";
import { findPerfAnalyzer, perfAnalyzerArgs, runPerfAnalyzer } from "../lib/perf-analyzer.mjs";
import { CLIENT_CPU, pinning, runChild, SERVER_CPU, startServer, tensorbindServe } from "../lib/procs.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));

const { values: opt } = parseArgs({
  options: {
    smoke: { type: "boolean", default: false },
    pairs: { type: "string" },
    "startup-runs": { type: "string" },
    clients: { type: "string", default: "perf_analyzer,node" },
    formats: { type: "string", default: "json,binary" },
    concurrency: { type: "string", default: "8" },
    elements: { type: "string", default: "1024" },
    "window-ms": { type: "string" },
    "duration-ms": { type: "string" },
    models: { type: "string", default: "examples/quickstart/models.ts" },
    root: { type: "string" },
    stability: { type: "string", default: "100" },
    "no-pin": { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
// --root (or TENSORBIND_ROOT): run tensorbind from another checkout/build (bin/, dist/, examples/)
const ROOT = resolve(opt.root ?? process.env.TENSORBIND_ROOT ?? REPO);
if (opt.help) {
  process.stdout.write(
    "usage: node bench/http-identity/run.mjs [--smoke] [--pairs N] [--startup-runs N]\n" +
      "  [--clients perf_analyzer,node] [--formats json,binary] [--concurrency 8] [--elements 1024]\n" +
      "  [--window-ms MS (perf_analyzer window)] [--duration-ms MS (loadgen run)]\n" +
      "  [--models examples/quickstart/models.ts] [--root DIR] [--stability PCT] [--no-pin]\n",
  );
  process.exit(0);
}
const smoke = opt.smoke;
const PAIRS = Number(opt.pairs ?? (smoke ? 1 : 5));
const STARTUP_RUNS = Number(opt["startup-runs"] ?? (smoke ? 2 : 10));
const WINDOW_MS = Number(opt["window-ms"] ?? (smoke ? 400 : 2000));
const DURATION_MS = Number(opt["duration-ms"] ?? (smoke ? 700 : 5000));
const CONCURRENCY = Number(opt.concurrency);
const ELEMENTS = Number(opt.elements);
const FORMATS = opt.formats.split(",").filter(Boolean);
let CLIENTS = opt.clients.split(",").filter(Boolean);
const NAN = { rps: Number.NaN, p50: Number.NaN, p99: Number.NaN };

// ------------------------------------------------------------------ environment
const { on: pinned, pin } = pinning(!opt["no-pin"]);
const pa = CLIENTS.includes("perf_analyzer") ? findPerfAnalyzer() : null;
if (CLIENTS.includes("perf_analyzer") && !pa) {
  log("perf_analyzer not found (run scripts/setup-python.sh); using the node load generator only");
  CLIENTS = CLIENTS.filter((c) => c !== "perf_analyzer");
}
requireFiles([["dist/ (npm run build)", "dist/cli/main.js"]], ROOT);

const work = workDir();

// ------------------------------------------------------------------ servers
const SERVERS = {
  tensorbind: (readyFile) => tensorbindServe({ root: ROOT, models: opt.models, metrics: 0, readyFile }),
  bare: (readyFile) => [
    process.execPath,
    join(HERE, "bare-server.mjs"),
    "--port",
    "0",
    "--ready-file",
    readyFile,
  ],
};

let serial = 0;
function start(kind) {
  const readyFile = join(work, `${kind}-${serial++}.ready.json`);
  // Polled every millisecond: the start-up figures are read from here.
  return startServer({
    argv: pin(SERVER_CPU, SERVERS[kind](readyFile)),
    cwd: ROOT,
    readyFile,
    timeoutMs: 20_000,
    pollMs: 1,
    name: kind,
  });
}

function rssMb(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

// ------------------------------------------------------------------ clients
async function measurePerfAnalyzer(url, format) {
  const args = perfAnalyzerArgs({
    model: "identity_fp32",
    url: new URL(url).host,
    shape: { INPUT0: ELEMENTS },
    // perf_analyzer's random FP32 data contains NaN, which is not JSON: both servers (and
    // Triton) reject it. Zeros keep JSON and binary runs comparable.
    inputData: "zero",
    concurrency: CONCURRENCY,
    intervalMs: WINDOW_MS,
    // perf_analyzer exits 2 when max/min of its last 3 windows exceeds this (default 10%):
    // on a shared 2-core machine that happens all the time; pairs and medians handle noise.
    stability: opt.stability,
    maxTrials: smoke ? 5 : 10,
    tensorFormat: format,
  });
  try {
    const r = await runPerfAnalyzer(pa, args, { pin, label: `${url} ${format}` });
    return { rps: r.rps, p50: r.p50Us, p99: r.p99Us };
  } catch (e) {
    log(String(e.message).slice(0, 2500));
    return NAN;
  }
}

async function measureNode(url, format) {
  const argv = [
    process.execPath,
    join(HERE, "loadgen.mjs"),
    "--url",
    url,
    "--format",
    format,
    "--elements",
    String(ELEMENTS),
    "--concurrency",
    String(CONCURRENCY),
    "--duration-ms",
    String(DURATION_MS),
    "--warmup-ms",
    smoke ? "200" : "500",
  ];
  const { code, out } = await runChild(pin(CLIENT_CPU, argv), { timeoutMs: DURATION_MS + 60_000 });
  try {
    const r = JSON.parse(out.trim().split("\n").pop());
    if (code !== 0 || r.errors > 0 || r.requests === 0) throw new Error(`errors=${r.errors}`);
    return { rps: r.rps, p50: r.p50_us, p99: r.p99_us };
  } catch (e) {
    log(`loadgen failed (exit ${code}) against ${url} ${format}: ${e}\n${out.slice(-1500)}`);
    return NAN;
  }
}
const MEASURE = { perf_analyzer: measurePerfAnalyzer, node: measureNode };

// Sanity check: both servers answer the same identity request with the same data.
async function sanity(url) {
  const data = [1.5, -2.25, 3, 0];
  const r = await fetch(`${url}/v2/models/identity_fp32/infer`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ inputs: [{ name: "INPUT0", shape: [1, 4], datatype: "FP32", data }] }),
  });
  const body = await r.json();
  const got = body.outputs?.[0]?.data;
  if (r.status !== 200 || JSON.stringify(got) !== JSON.stringify(data)) {
    throw new Error(`${url}: identity_fp32 answered ${r.status} ${JSON.stringify(body)}`);
  }
}

// ------------------------------------------------------------------ main
const started = new Date();
log(`work dir ${work}; pinning ${pinned ? `servers CPU ${SERVER_CPU}, clients CPU ${CLIENT_CPU}` : "off"}`);

// 1. start-up to ready, alternating
const startup = { tensorbind: [], bare: [] };
const rss = { tensorbind: [], bare: [] };
const exitCodes = { tensorbind: [], bare: [] };
for (let i = 0; i < STARTUP_RUNS; i++) {
  for (const kind of ["tensorbind", "bare"]) {
    const s = await start(kind);
    startup[kind].push(s.startupMs);
    await sleep(200);
    rss[kind].push(rssMb(s.info.pid ?? s.pid));
    const ex = await s.stop();
    exitCodes[kind].push(ex.code ?? ex.sig);
  }
}
log(`start-up: tensorbind ${fmt(median(startup.tensorbind), 1)} ms, bare ${fmt(median(startup.bare), 1)} ms`);

// 2. throughput, A B A B ...
const A = await start("tensorbind");
const B = await start("bare");
await sanity(A.info.http);
await sanity(B.info.http);
const rows = [];
try {
  for (const client of CLIENTS) {
    for (const format of FORMATS) {
      for (let p = 1; p <= PAIRS; p++) {
        log(`${client} ${format} pair ${p}/${PAIRS}`);
        const a = await MEASURE[client](A.info.http, format);
        const b = await MEASURE[client](B.info.http, format);
        rows.push({ client, format, pair: p, a, b, ratio: a.rps / b.rps });
      }
    }
  }
} finally {
  const ea = await A.stop();
  await B.stop();
  if (ea.code !== 0) log(`tensorbind exited with ${ea.code ?? ea.sig} after SIGTERM:\n${A.stderr()}`);
}

// ------------------------------------------------------------------ report
let commit = "";
const g = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: REPO, encoding: "utf8" });
if (g.status === 0) commit = g.stdout.trim();
const out = [];
out.push(`### bench/http-identity${smoke ? " (smoke)" : ""}`);
out.push("");
out.push(`- date: ${started.toISOString()}; commit ${commit || "n/a"} (working tree may differ)`);
out.push(`- machine: ${machineLine()}`);
out.push(
  `- pinning: ${pinned ? `servers on CPU ${SERVER_CPU}, client on CPU ${CLIENT_CPU} (taskset)` : "none"}`,
);
out.push(
  `- workload: identity_fp32, FP32 [1, ${ELEMENTS}] (${(ELEMENTS * 4) / 1024} KiB), concurrency ${CONCURRENCY}; ` +
    `tensorbind serves ${opt.models}${ROOT !== REPO ? ` from ${ROOT}` : ""}; reference: bench/http-identity/bare-server.mjs`,
);
if (pa) out.push(`- perf_analyzer: ${pa.version}; window ${WINDOW_MS} ms`);
if (CLIENTS.includes("node")) out.push(`- loadgen.mjs: ${DURATION_MS} ms per run after warm-up`);
out.push(`- command: node bench/http-identity/run.mjs ${process.argv.slice(2).join(" ")}`.trimEnd());
out.push("");
out.push(`#### Start-up to ready (spawn -> ready file), ${STARTUP_RUNS} runs each, alternating`);
out.push("");
out.push(
  "| server | median ms | min ms | max ms | RSS 200 ms after ready, median MB | exit codes on SIGTERM |",
);
out.push("|---|---:|---:|---:|---:|---|");
for (const kind of ["tensorbind", "bare"]) {
  const xs = startup[kind];
  out.push(
    `| ${kind} | ${fmt(median(xs), 1)} | ${fmt(Math.min(...xs), 1)} | ${fmt(Math.max(...xs), 1)} | ` +
      `${fmt(median(rss[kind]), 1)} | ${[...new Set(exitCodes[kind])].join(", ")} |`,
  );
}
out.push("");
out.push(`ratio tensorbind / bare start-up: ${fmt(median(startup.tensorbind) / median(startup.bare), 2)}`);
out.push("");
out.push("#### Throughput, A B A B (A = tensorbind, B = bare node:http echo)");
out.push("");
out.push(
  "| client | format | pair | tensorbind infer/s | bare infer/s | ratio | tensorbind p50/p99 µs | bare p50/p99 µs |",
);
out.push("|---|---|---:|---:|---:|---:|---:|---:|");
for (const r of rows) {
  out.push(
    `| ${r.client} | ${r.format} | ${r.pair} | ${fmt(r.a.rps)} | ${fmt(r.b.rps)} | ${fmt(r.ratio, 3)} | ` +
      `${fmt(r.a.p50)}/${fmt(r.a.p99)} | ${fmt(r.b.p50)}/${fmt(r.b.p99)} |`,
  );
}
out.push("");
out.push(
  "| client | format | median ratio (target P3 >= 0.6) | median tensorbind infer/s | median bare infer/s |",
);
out.push("|---|---|---:|---:|---:|");
for (const client of CLIENTS) {
  for (const format of FORMATS) {
    const rs = rows.filter((r) => r.client === client && r.format === format);
    out.push(
      `| ${client} | ${format} | **${fmt(median(rs.map((r) => r.ratio)), 3)}** | ` +
        `${fmt(median(rs.map((r) => r.a.rps)))} | ${fmt(median(rs.map((r) => r.b.rps)))} |`,
    );
  }
}
process.stdout.write(`${out.join("\n")}\n`);
const failed = rows.some((r) => !Number.isFinite(r.ratio));
process.exit(failed ? 1 : 0);
