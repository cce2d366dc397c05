#!/usr/bin/env node
// bench/metrics-overhead: throughput of a tensorbind server with observability on (metrics
// port scraped like Prometheus would, dashboard polled like an open browser tab, GPU/CPU
// sampling) against one with it off (statistics only: the statistics extension always
// records), side by side. Target P9 in the design notes: on / off >= 0.97 (at most 3% cost).
// A third mode, "log", adds a log line per request (--log-requests).
//
//   node bench/metrics-overhead/run.mjs             full run (~2.5 min)
//   node bench/metrics-overhead/run.mjs --smoke     ~20 s, to keep it working
//
// Both servers run at once (idle one waits); alternate.mjs, one closed-loop client, switches
// between them in short phases, A B B A …, so that the shared machine's swings in load fall on
// both alike; the report gives the median of the per-cycle ratios. Load: identity_fp32, binary
// tensors of 16 FP32 (small requests maximise requests/s, so per-request costs show most).
// When taskset and >= 2 CPUs are available, servers run on CPU 0 and clients on CPU 1.
// Prints a markdown report on stdout; progress goes to stderr.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { fmt, log, machineLine, median, requireFiles, workDir } from "../lib/common.mjs";
import { CLIENT_CPU, pinning, runChild, SERVER_CPU, startServer } from "../lib/procs.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const { values: opt } = parseArgs({
  options: {
    smoke: { type: "boolean", default: false },
    cycles: { type: "string" },
    "phase-ms": { type: "string", default: "500" },
    concurrency: { type: "string", default: "8" },
    elements: { type: "string", default: "16" },
    format: { type: "string", default: "binary" },
    "scrape-ms": { type: "string", default: "1000" },
    modes: { type: "string", default: "on,log" },
    "no-pin": { type: "boolean", default: false },
  },
});
const cycles = Number(opt.cycles ?? (opt.smoke ? 6 : 60));
const phaseMs = Number(opt["phase-ms"]);
const scrapeMs = Number(opt["scrape-ms"]);
const modes = opt.modes.split(",").filter(Boolean);
const { on: canPin, pin } = pinning(!opt["no-pin"]);
// This process plays Prometheus and the browser tab: it belongs with the client, on CPU 1.
if (canPin) spawnSync("taskset", ["-cp", String(CLIENT_CPU), String(process.pid)]);
requireFiles([["dist/ (npm run build)", "dist/index.js"]]);

const tmp = workDir("tb-bench-metrics-");

async function startMode(mode) {
  const readyFile = join(tmp, `${mode}.json`);
  const s = await startServer({
    argv: pin(SERVER_CPU, [process.execPath, join(HERE, "serve.mjs"), mode, readyFile]),
    readyFile,
    // "log" writes a line per request to stderr: not to this terminal
    stderr: mode === "log" ? "ignore" : "inherit",
    pollMs: 50,
    name: `${mode} server`,
  });
  return { mode, stop: s.stop, ...s.info };
}

async function alternate(a, b) {
  const argv = pin(CLIENT_CPU, [
    process.execPath,
    join(HERE, "alternate.mjs"),
    "--a",
    a,
    "--b",
    b,
    "--format",
    opt.format,
    "--elements",
    opt.elements,
    "--concurrency",
    opt.concurrency,
    "--phase-ms",
    String(phaseMs),
    "--cycles",
    String(cycles),
  ]); // prettier-ignore
  // Its warm-up (4 s) and 2 phases per cycle, with room for a slow machine.
  const { code, out } = await runChild(argv, { timeoutMs: 60_000 + 4 * cycles * phaseMs });
  if (code !== 0) throw new Error(`alternate.mjs exit ${code}:\n${out.slice(-2000)}`);
  return JSON.parse(out.trim().split("\n").at(-1));
}

/** What a Prometheus server and an open dashboard tab do to an "on" server while it is loaded. */
function observers(server) {
  let stop = false;
  const every = async (ms, url) => {
    while (!stop) {
      await fetch(url)
        .then((r) => r.arrayBuffer())
        .catch(() => {});
      await new Promise((r) => setTimeout(r, ms));
    }
  };
  const done = Promise.all([
    every(scrapeMs, server.metrics),
    every(1000, `${server.http}/dashboard/api/snapshot`),
  ]);
  return async () => {
    stop = true;
    await done;
  };
}

/** User + system CPU time of a process so far, in ms (from /proc; 10 ms resolution). */
function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}
const sum = (xs) => xs.reduce((x, y) => x + y, 0);
const quartiles = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return [s[Math.floor(s.length / 4)], s[Math.floor((3 * s.length) / 4)]];
};

const off = await startMode("off");
const results = {};
for (const m of modes) {
  const on = await startMode(m);
  log(`${m} vs off (pinned: ${canPin}): ${cycles} cycles of 2 x ${phaseMs} ms`);
  // Prometheus and the dashboard tab watch the "on" server the whole time, as they would.
  const stop = observers(on);
  const cpu0 = [cpuMs(off.pid), cpuMs(on.pid)];
  const r = await alternate(off.http, on.http);
  const cpu1 = [cpuMs(off.pid), cpuMs(on.pid)];
  await stop();
  // Server CPU per request over the whole run: the "on" side's background work (scrapes and
  // sampling while the other server is loaded) is included. Less sensitive than req/s to the
  // neighbours' load on a shared machine.
  r.a_cpu_us = ((cpu1[0] - cpu0[0]) * 1000) / r.a_count;
  r.b_cpu_us = ((cpu1[1] - cpu0[1]) * 1000) / r.b_count;
  await on.stop();
  const ratios = r.a.map((a, i) => r.b[i] / a);
  results[m] = { ...r, ratios };
  log(
    `${m}: median ratio ${median(ratios).toFixed(3)}, total ${(sum(r.b) / sum(r.a)).toFixed(3)}, CPU/request off ${r.a_cpu_us.toFixed(0)} µs, ${m} ${r.b_cpu_us.toFixed(0)} µs, failed requests off ${r.a_errors}, ${m} ${r.b_errors}`,
  );
  // A failed request is answered fast (or not at all): the side with failures is not measured.
  if (r.a_errors + r.b_errors > 0) log(`WARNING: ${m} vs off had failed requests; its ratios are not valid`);
}

// What one scrape and one dashboard refresh cost the server, in its own CPU time: many calls in
// a row on an idle "on" server, less the cost of the same number of trivial requests
// (/v2/health/ready). Per-call figures do not depend on how loaded the machine is.
async function perCallCpu() {
  const on = await startMode("on");
  const calls = opt.smoke ? 100 : 400;
  const measure = async (url) => {
    for (let i = 0; i < 20; i++) await (await fetch(url)).arrayBuffer();
    const c0 = cpuMs(on.pid);
    for (let i = 0; i < calls; i++) await (await fetch(url)).arrayBuffer();
    return ((cpuMs(on.pid) - c0) * 1000) / calls;
  };
  const base = await measure(`${on.http}/v2/health/ready`);
  // /proc counts CPU in 10 ms ticks: below 10 ms / calls a difference is not measurable.
  const scrape = Math.max(0, (await measure(on.metrics)) - base);
  const snapshot = Math.max(0, (await measure(`${on.http}/dashboard/api/snapshot`)) - base);
  const bytes = (await (await fetch(on.metrics)).arrayBuffer()).byteLength;
  await on.stop();
  return { base, scrape, snapshot, bytes };
}
const perCall = await perCallCpu();
log(
  `per call: scrape ${perCall.scrape.toFixed(0)} µs, snapshot ${perCall.snapshot.toFixed(0)} µs (beyond a trivial request: ${perCall.base.toFixed(0)} µs)`,
);

// The statistics recorder's own cost per request, which both sides pay (it cannot be turned
// off: the statistics extension reads it).
const { StatisticsRecorder } = await import("../../dist/core/statistics.js");
const rec = new StatisticsRecorder("m", "1");
const timings = { computeInputNs: 1000, computeInferNs: 2000, computeOutputNs: 500 };
const N = 2_000_000;
let t0 = process.hrtime.bigint();
for (let i = 0; i < N; i++) {
  rec.recordExecution(1, timings);
  rec.recordSuccess(50_000, 1_000, 1, timings);
}
const statsNs = Number(process.hrtime.bigint() - t0) / N;
const { HistogramSet } = await import("../../dist/metrics/model-histograms.js");
const { Registry } = await import("../../dist/model/registry.js");
const { bind: bindModel } = await import("../../dist/bind.js");
const { tensor } = await import("../../dist/index.js");
const reg = new Registry();
bindModel(
  {
    name: "m",
    inputs: { X: tensor("FP32", [1]) },
    outputs: { Y: tensor("FP32", [1]) },
    fn: ({ X }) => ({ Y: X }),
  },
  reg,
);
new HistogramSet(reg).attach();
const observed = reg.list()[0].stats;
t0 = process.hrtime.bigint();
for (let i = 0; i < N; i++) {
  observed.recordExecution(1, timings);
  observed.recordSuccess(50_000, 1_000, 1, timings);
}
const observedNs = Number(process.hrtime.bigint() - t0) / N;

const lines = [];
lines.push(
  `Machine: ${machineLine()}; servers${canPin ? " on CPU 0, clients on CPU 1 (taskset)" : " and clients unpinned"}.`,
);
lines.push(
  `Load: alternate.mjs, ${opt.format} identity_fp32 [1,${opt.elements}], concurrency ${opt.concurrency}, ${cycles} cycles of off/on phases of ${phaseMs} ms (A B, B A, ...); the "on" server scraped every ${scrapeMs} ms and its dashboard snapshot polled every 1000 ms throughout.`,
);
lines.push("");
lines.push(
  "| mode | median on/off req/s ratio per cycle (target ≥ 0.97) | quartiles | total on / total off | server CPU µs per request, off → on | CPU ratio off/on | median off req/s | median on req/s | off p50 / p99 µs | on p50 / p99 µs | failed requests off / on |",
);
lines.push("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
for (const m of modes) {
  const r = results[m];
  const [q1, q3] = quartiles(r.ratios);
  lines.push(
    `| ${m} | **${fmt(median(r.ratios), 3)}** | ${fmt(q1, 3)} – ${fmt(q3, 3)} | ${fmt(sum(r.b) / sum(r.a), 3)} | ${fmt(r.a_cpu_us)} → ${fmt(r.b_cpu_us)} | **${fmt(r.a_cpu_us / r.b_cpu_us, 3)}** | ${fmt(median(r.a))} | ${fmt(median(r.b))} | ${r.a_lat.p50} / ${r.a_lat.p99} | ${r.b_lat.p50} / ${r.b_lat.p99} | ${r.a_errors} / ${r.b_errors} |`,
  );
}
lines.push("");
lines.push(
  `Server CPU per call beyond a trivial request (${fmt(perCall.base)} µs), one model, ±${fmt(10_000 / (opt.smoke ? 100 : 400))} µs: a scrape of /metrics (${perCall.bytes} bytes) ${fmt(perCall.scrape)} µs, a dashboard snapshot ${fmt(perCall.snapshot)} µs. Scraped every ${scrapeMs / 1000} s with a dashboard open, that is ${fmt(((perCall.scrape * 1000) / scrapeMs + perCall.snapshot) / 1e4, 2)}% of one core; at Prometheus's usual 15 s, ${fmt(perCall.scrape / 15 / 1e4, 3)}%.`,
);
lines.push(
  `StatisticsRecorder per request (recordExecution + recordSuccess), paid by both sides: ${fmt(statsNs, 0)} ns; with the metrics histograms observing: ${fmt(observedNs, 0)} ns.`,
);
process.stdout.write(`${lines.join("\n")}\n`);
await off.stop();
// Failed requests make the comparison meaningless: say so in the exit status too.
const failed = modes.some((m) => results[m].a_errors + results[m].b_errors > 0);
process.exit(failed ? 1 : 0);
