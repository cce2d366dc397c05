#!/usr/bin/env node
// Dynamic batching on vs off (performance.md P6): the same PyTorch MLP in a Python worker, and
// the same JS function, each bound twice (models.ts), driven by perf_analyzer (HTTP, binary tensors) at
// concurrency 32 with batch-1 requests. Runs alternate on/off (A B A B …) so that drift on a
// shared machine hits both alike; each pair gives a throughput ratio and the median ratio is the
// result. Prints a Markdown table and, with --json, the raw figures.
//
//   node bench/batching/run.mjs [--pairs N] [--interval-ms N] [--concurrency N] [--protocol http|grpc]
//                               [--only mlp|js] [--smoke] [--json]
//
// Environment: TENSORBIND_PYTHON (interpreter with torch; default .venv/bin/python),
// BENCH_DEVICE (cuda:0 for a GPU), BENCH_DELAY_MS (max queue delay, default 1).
// Needs `npm run build` and perf_analyzer (.venv/bin/perf_analyzer, or PERF_ANALYZER, or PATH).
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { log, machineLine, median, REPO, requireFiles, workDir } from "../lib/common.mjs";
import { perfAnalyzerArgs, requirePerfAnalyzer, runPerfAnalyzer } from "../lib/perf-analyzer.mjs";
import { startServer, tensorbindServe } from "../lib/procs.mjs";

const { values } = parseArgs({
  options: {
    pairs: { type: "string", default: "3" },
    "interval-ms": { type: "string", default: "3000" },
    concurrency: { type: "string", default: "32" },
    protocol: { type: "string", default: "http" },
    only: { type: "string" },
    smoke: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  },
});
const smoke = values.smoke;
const pairs = smoke ? 1 : Math.max(1, Number(values.pairs));
// perf_analyzer measures in time windows until the last three agree within 2x (-s 100, as the
// conformance suite does on a shared machine); the figure is from those windows.
const intervalMs = smoke ? 500 : Number(values["interval-ms"]);
const concurrency = Number(values.concurrency);
const kinds = values.only ? [values.only] : ["mlp", "js"];
const protocol = values.protocol;
const RUN_TIMEOUT_MS = Number(process.env.BENCH_RUN_TIMEOUT_MS ?? "90000");

const python =
  process.env.TENSORBIND_PYTHON ??
  (existsSync(join(REPO, ".venv/bin/python")) ? join(REPO, ".venv/bin/python") : "python3");

requireFiles([["dist/ (npm run build)", "dist/cli/main.js"]]);
const pa = requirePerfAnalyzer();

async function measure(address, model) {
  const args = perfAnalyzerArgs({
    model,
    protocol,
    url: address,
    concurrency,
    intervalMs,
    stability: 100,
    maxTrials: 6,
    percentile: 99,
  });
  // A time limit and one or two more tries (counted in the output): perf_analyzer was seen to
  // sleep forever after its last answer here. A run whose windows never agreed (exit 2) still
  // counts: its throughput is the last windows'.
  const r = await runPerfAnalyzer(pa, args, {
    timeoutMs: RUN_TIMEOUT_MS,
    retries: 2,
    acceptNonZeroExit: true,
    label: model,
  });
  return { throughput: r.rps, p99Us: r.p99Us, attempts: r.attempts };
}

async function batchSizes(httpUrl, model) {
  const s = (await (await fetch(`${httpUrl}/v2/models/${model}/stats`)).json()).model_stats[0];
  return {
    inferences: s.inference_count,
    executions: s.execution_count,
    mean: s.inference_count / s.execution_count,
  };
}

const readyFile = join(workDir(), "ready.json");
const { info, stop } = await startServer({
  argv: tensorbindServe({ models: "bench/batching/models.ts", readyFile, logLevel: "warn" }),
  env: { ...process.env, TENSORBIND_PYTHON: python },
  readyFile,
  stdout: "inherit",
  stderr: "inherit",
  pollMs: 100,
  timeoutMs: 180_000, // torch imports take a while on a busy machine
});
// A time limit (`timeout …`) must not leave the server and its workers behind: bench/lib/procs.mjs
// stops it on SIGTERM and SIGINT.
const results = Object.fromEntries(kinds.map((k) => [k, []]));
try {
  const address = protocol === "grpc" ? info.grpc : new URL(info.http).host;
  for (const kind of kinds) await measure(address, `${kind}_batching`); // warm-up (torch's first calls are slow)
  for (let p = 0; p < pairs; p++) {
    for (const kind of kinds) {
      const on = await measure(address, `${kind}_batching`);
      const off = await measure(address, `${kind}_single`);
      results[kind].push({ on, off, ratio: on.throughput / off.throughput });
      log(`pair ${p + 1} ${kind}: on ${on.throughput.toFixed(1)}/s, off ${off.throughput.toFixed(1)}/s`);
    }
  }
  const stats = {};
  for (const kind of kinds) stats[kind] = await batchSizes(info.http, `${kind}_batching`);
  console.log(
    `\nMachine: ${machineLine()}, ` +
      `${protocol}, concurrency ${concurrency}, ${intervalMs} ms windows, device ${process.env.BENCH_DEVICE ?? "cpu"}\n`,
  );
  console.log(
    "| model | pair ratios (on/off) | median ratio | median on infer/s | median off infer/s | median p99 on / off (ms) | mean batch (on) |",
  );
  console.log("|---|---|---:|---:|---:|---:|---:|");
  for (const kind of kinds) {
    const r = results[kind];
    const ms = (us) => (us / 1000).toFixed(1);
    console.log(
      `| ${kind} | ${r.map((x) => x.ratio.toFixed(2)).join(", ")} | **${median(r.map((x) => x.ratio)).toFixed(2)}** | ` +
        `${median(r.map((x) => x.on.throughput)).toFixed(0)} | ${median(r.map((x) => x.off.throughput)).toFixed(0)} | ` +
        `${ms(median(r.map((x) => x.on.p99Us)))} / ${ms(median(r.map((x) => x.off.p99Us)))} | ${stats[kind].mean.toFixed(1)} |`,
    );
  }
  if (values.json) console.log(JSON.stringify({ results, stats }, null, 2));
} finally {
  await stop();
}
