#!/usr/bin/env node
// tensorbind's gRPC frontend vs a bare @grpc/grpc-js echo of the same ModelInfer message.
// Both are driven by the same client (perf_analyzer -i grpc, identity_fp32, 4 KiB tensors,
// concurrency 8), alternating A B A B so that drift on a shared machine hits both alike; each
// pair gives a throughput ratio and the median ratio is the result.
//
//   node bench/grpc-identity/run.mjs [--pairs N] [--requests N] [--smoke]
//
// Each measurement is a fixed request count (perf_analyzer --request-count), which skips
// perf_analyzer's stability search: on a shared machine that search often never settles. A run
// that does not end within BENCH_RUN_TIMEOUT_MS (default 180 s) is killed and tried again, twice
// at most (--request-count was seen to hang after its last answer).
//
// Needs `npm run build` and perf_analyzer (PERF_ANALYZER, .venv/bin/perf_analyzer, or PATH).
import { join } from "node:path";
import { parseArgs } from "node:util";
import { log, median, requireFiles, workDir } from "../lib/common.mjs";
import { perfAnalyzerArgs, requirePerfAnalyzer, runPerfAnalyzer } from "../lib/perf-analyzer.mjs";
import { startServer, tensorbindServe } from "../lib/procs.mjs";

const { values } = parseArgs({
  options: {
    pairs: { type: "string", default: "3" },
    requests: { type: "string", default: "4000" },
    smoke: { type: "boolean", default: false },
  },
});
const smoke = values.smoke;
const pairs = smoke ? 1 : Math.max(3, Number(values.pairs));
const requests = smoke ? 300 : Number(values.requests);
const ELEMENTS = 1024; // FP32: 4 KiB per tensor
const CONCURRENCY = 8;
const TIMEOUT_MS = Number(process.env.BENCH_RUN_TIMEOUT_MS ?? 180_000);

requireFiles([["dist/ (npm run build)", "dist/frontends/grpc/load.js"]]);
const pa = requirePerfAnalyzer();
const work = workDir();

/** Starts a server process; resolves with its gRPC host:port and a stop function. */
async function start(kind, serial) {
  const readyFile = join(work, `${kind}-${serial}.json`);
  const argv =
    kind === "tensorbind"
      ? tensorbindServe({ models: "examples/quickstart/models.ts", readyFile, logLevel: "warn" })
      : [process.execPath, "bench/grpc-identity/bare-server.mjs", "--ready-file", readyFile];
  const s = await startServer({ argv, readyFile, stderr: "inherit", pollMs: 50, name: kind });
  return { address: s.info.grpc, stop: s.stop };
}

async function run(kind, serial) {
  const s = await start(kind, serial);
  try {
    const args = perfAnalyzerArgs({
      model: "identity_fp32",
      protocol: "grpc",
      url: s.address,
      shape: { INPUT0: ELEMENTS },
      concurrency: CONCURRENCY,
      requestCount: requests,
    });
    const r = await runPerfAnalyzer(pa, args, { timeoutMs: TIMEOUT_MS, retries: 2, label: kind });
    return { throughput: r.rps, latencyUs: r.avgUs };
  } finally {
    await s.stop();
  }
}

const rows = [];
for (let i = 1; i <= pairs; i++) {
  const a = await run("tensorbind", i);
  const b = await run("bare", i);
  rows.push({ pair: i, a, b, ratio: a.throughput / b.throughput });
  log(`pair ${i}: tensorbind ${a.throughput.toFixed(0)}/s, bare ${b.throughput.toFixed(0)}/s`);
}

const lines = [
  `perf_analyzer -i grpc, identity_fp32, INPUT0:${ELEMENTS} (4 KiB FP32), concurrency ${CONCURRENCY}, ${requests} requests per run${smoke ? " (smoke)" : ""}`,
  "",
  "| pair | tensorbind infer/s | tensorbind avg latency (µs) | bare grpc-js infer/s | bare avg latency (µs) | ratio (A/B) |",
  "|---:|---:|---:|---:|---:|---:|",
  ...rows.map(
    (r) =>
      `| ${r.pair} | ${r.a.throughput.toFixed(1)} | ${r.a.latencyUs} | ${r.b.throughput.toFixed(1)} | ${r.b.latencyUs} | ${r.ratio.toFixed(3)} |`,
  ),
  `| **median** | | | | | **${median(rows.map((r) => r.ratio)).toFixed(3)}** |`,
];
console.log(lines.join("\n"));
