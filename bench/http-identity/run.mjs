#!/usr/bin/env node
// bench/http-identity: tensorbind's JS identity model (identity_fp32 over HTTP) against a
// bare node:http server that parses the same JSON and echoes it (bare-server.mjs), side by
// side, A B A B ..., under the same client. Also start-up to ready of both. Target P3 in
// /work/shared/design/performance.md: tensorbind / bare >= 0.6.
//
//   node bench/http-identity/run.mjs            full run (a few minutes)
//   node bench/http-identity/run.mjs --smoke    ~20 s, to keep it working in CI
//
// Clients: perf_analyzer (-i http, .venv/bin/perf_analyzer from scripts/setup-python.sh,
// or $PERF_ANALYZER) and loadgen.mjs (a tiny closed-loop node:http client). When taskset and
// >= 2 CPUs are available, servers run on CPU 0 and the client on CPU 1.
// Prints a markdown report on stdout; progress goes to stderr.
import { spawn, spawnSync } from "node:child_process";
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, "../..");

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

const log = (...m) => process.stderr.write(`[bench] ${m.join(" ")}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : "n/a");

// ------------------------------------------------------------------ environment
const haveTaskset = !opt["no-pin"] && spawnSync("taskset", ["-V"]).status === 0 && cpus().length >= 2;
const SERVER_CPU = "0";
const CLIENT_CPU = "1";
const pin = (cpu, argv) => (haveTaskset ? ["taskset", "-c", cpu, ...argv] : argv);

function findPerfAnalyzer() {
  for (const c of [process.env.PERF_ANALYZER, join(REPO, ".venv/bin/perf_analyzer")]) {
    if (!c) continue;
    try {
      accessSync(c, constants.X_OK);
    } catch {
      continue;
    }
    const r = spawnSync(c, ["--version"], { encoding: "utf8" });
    const out = `${r.stdout}${r.stderr}`;
    if (out.includes("Perf Analyzer Version")) return { path: c, version: out.trim() };
  }
  return null;
}
const pa = CLIENTS.includes("perf_analyzer") ? findPerfAnalyzer() : null;
if (CLIENTS.includes("perf_analyzer") && !pa) {
  log("perf_analyzer not found (run scripts/setup-python.sh); using the node load generator only");
  CLIENTS = CLIENTS.filter((c) => c !== "perf_analyzer");
}
if (!existsSync(join(ROOT, "dist/cli/main.js"))) {
  log("dist/ is missing: run `npm run build` first");
  process.exit(2);
}

const work = mkdtempSync(join(tmpdir(), "tb-bench-"));
process.on("exit", () => rmSync(work, { recursive: true, force: true }));

// ------------------------------------------------------------------ servers
const SERVERS = {
  tensorbind: (ready) => [
    "node",
    join(ROOT, "bin/tensorbind.js"),
    "serve",
    opt.models,
    "--http-port",
    "0",
    "--grpc-port",
    "0",
    "--metrics-port",
    "0",
    "--ready-file",
    ready,
  ],
  bare: (ready) => ["node", join(HERE, "bare-server.mjs"), "--port", "0", "--ready-file", ready],
};

let serial = 0;
async function startServer(kind, timeoutMs = 20_000) {
  const ready = join(work, `${kind}-${serial++}.ready.json`);
  const argv = pin(SERVER_CPU, SERVERS[kind](ready));
  const t0 = performance.now();
  const child = spawn(argv[0], argv.slice(1), { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (c) => {
    stderr = (stderr + c).slice(-4000);
  });
  let exited = null;
  child.on("exit", (code, sig) => {
    exited = { code, sig };
  });
  for (;;) {
    if (existsSync(ready)) {
      let info;
      try {
        info = JSON.parse(readFileSync(ready, "utf8"));
      } catch {
        await sleep(1);
        continue;
      }
      const startupMs = performance.now() - t0;
      return { kind, child, info, startupMs, url: info.http, stderr: () => stderr, exited: () => exited };
    }
    if (exited) throw new Error(`${kind} exited (${exited.code ?? exited.sig}) before ready:\n${stderr}`);
    if (performance.now() - t0 > timeoutMs) {
      child.kill("SIGKILL");
      throw new Error(`${kind} not ready within ${timeoutMs} ms:\n${stderr}`);
    }
    await sleep(1);
  }
}

function rssMb(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

async function stopServer(s) {
  if (s.exited()) return s.exited();
  const done = new Promise((r) => s.child.once("exit", (code, sig) => r({ code, sig })));
  s.child.kill("SIGTERM");
  const t = setTimeout(() => s.child.kill("SIGKILL"), 10_000);
  const r = await done;
  clearTimeout(t);
  return r;
}

// ------------------------------------------------------------------ clients
function runChild(argv, timeoutMs) {
  return new Promise((res) => {
    const child = spawn(argv[0], argv.slice(1), { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (c) => {
      out += c;
    });
    child.stderr.on("data", (c) => {
      out += c;
    });
    const t = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(t);
      res({ code, out });
    });
  });
}

async function measurePerfAnalyzer(url, format) {
  const hostport = new URL(url).host;
  const argv = [
    pa.path,
    "-m",
    "identity_fp32",
    "-u",
    hostport,
    "-i",
    "http",
    "-b",
    "1",
    "--shape",
    `INPUT0:${ELEMENTS}`,
    // perf_analyzer's random FP32 data contains NaN, which is not JSON: both servers (and
    // Triton) reject it. Zeros keep JSON and binary runs comparable.
    "--input-data",
    "zero",
    "--concurrency-range",
    `${CONCURRENCY}:${CONCURRENCY}`,
    "--measurement-interval",
    String(WINDOW_MS),
    // perf_analyzer exits 2 when max/min of its last 3 windows exceeds this (default 10%):
    // on a shared 2-core machine that happens all the time; pairs and medians handle noise.
    "-s",
    opt.stability,
    "--max-trials",
    smoke ? "5" : "10",
  ];
  if (format === "json") argv.push("--input-tensor-format", "json", "--output-tensor-format", "json");
  const { code, out } = await runChild(pin(CLIENT_CPU, argv), 120_000);
  const num = (re) => {
    const m = re.exec(out);
    return m ? Number(m[1]) : Number.NaN;
  };
  const rps = num(/Throughput:\s*([0-9.]+)\s*infer\/sec/);
  if (code !== 0 || !Number.isFinite(rps)) {
    log(`perf_analyzer failed (exit ${code}) against ${url} ${format}:\n${out.slice(-1500)}`);
    return { rps: Number.NaN, p50: Number.NaN, p99: Number.NaN };
  }
  return { rps, p50: num(/p50 latency:\s*([0-9]+)\s*usec/), p99: num(/p99 latency:\s*([0-9]+)\s*usec/) };
}

async function measureNode(url, format) {
  const argv = [
    "node",
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
  const { code, out } = await runChild(pin(CLIENT_CPU, argv), DURATION_MS + 60_000);
  try {
    const r = JSON.parse(out.trim().split("\n").pop());
    if (code !== 0 || r.errors > 0 || r.requests === 0) throw new Error(`errors=${r.errors}`);
    return { rps: r.rps, p50: r.p50_us, p99: r.p99_us };
  } catch (e) {
    log(`loadgen failed (exit ${code}) against ${url} ${format}: ${e}\n${out.slice(-1500)}`);
    return { rps: Number.NaN, p50: Number.NaN, p99: Number.NaN };
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
log(
  `work dir ${work}; pinning ${haveTaskset ? `servers CPU ${SERVER_CPU}, clients CPU ${CLIENT_CPU}` : "off"}`,
);

// 1. start-up to ready, alternating
const startup = { tensorbind: [], bare: [] };
const rss = { tensorbind: [], bare: [] };
const exitCodes = { tensorbind: [], bare: [] };
for (let i = 0; i < STARTUP_RUNS; i++) {
  for (const kind of ["tensorbind", "bare"]) {
    const s = await startServer(kind);
    startup[kind].push(s.startupMs);
    await sleep(200);
    rss[kind].push(rssMb(s.info.pid ?? s.child.pid));
    const ex = await stopServer(s);
    exitCodes[kind].push(ex.code ?? ex.sig);
  }
}
log(`start-up: tensorbind ${fmt(median(startup.tensorbind), 1)} ms, bare ${fmt(median(startup.bare), 1)} ms`);

// 2. throughput, A B A B ...
const A = await startServer("tensorbind");
const B = await startServer("bare");
await sanity(A.url);
await sanity(B.url);
const rows = [];
try {
  for (const client of CLIENTS) {
    for (const format of FORMATS) {
      for (let p = 1; p <= PAIRS; p++) {
        log(`${client} ${format} pair ${p}/${PAIRS}`);
        const a = await MEASURE[client](A.url, format);
        const b = await MEASURE[client](B.url, format);
        rows.push({ client, format, pair: p, a, b, ratio: a.rps / b.rps });
      }
    }
  }
} finally {
  const ea = await stopServer(A);
  await stopServer(B);
  if (ea.code !== 0) log(`tensorbind exited with ${ea.code ?? ea.sig} after SIGTERM:\n${A.stderr()}`);
}

// ------------------------------------------------------------------ report
const cpuModel = cpus()[0]?.model ?? "unknown CPU";
let commit = "";
const g = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: REPO, encoding: "utf8" });
if (g.status === 0) commit = g.stdout.trim();
const out = [];
out.push(`### bench/http-identity${smoke ? " (smoke)" : ""}`);
out.push("");
out.push(`- date: ${started.toISOString()}; commit ${commit || "n/a"} (working tree may differ)`);
out.push(`- machine: ${cpuModel}, ${cpus().length} CPUs; node ${process.version}`);
out.push(
  `- pinning: ${haveTaskset ? `servers on CPU ${SERVER_CPU}, client on CPU ${CLIENT_CPU} (taskset)` : "none"}`,
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
