#!/usr/bin/env node
// Native identity vs JS identity, one server, the same perf_analyzer command for each model,
// alternating (A B A B …) over HTTP and gRPC; each pair gives a throughput ratio native/JS and
// the median ratio is the result. `native_identity` forwards the input's bytes (no copy),
// `native_identity_copy` writes a fresh output like a real model; `js_identity` returns its input.
//
//   node bench/native-identity/run.mjs [--pairs N] [--requests N] [--elements N] [--concurrency N] [--smoke]
//
// Needs `npm run build`, cmake-js (builds the addon when missing) and perf_analyzer
// (PERF_ANALYZER, .venv/bin/perf_analyzer or PATH). When taskset can pin and there are >= 2
// CPUs, the server runs on CPU 0 and perf_analyzer on CPU 1. A perf_analyzer run that does not
// end within BENCH_RUN_TIMEOUT_MS (default 300 s) is killed and tried again, twice at most.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { log, median, REPO, requireFiles, workDir } from "../lib/common.mjs";
import { perfAnalyzerArgs, requirePerfAnalyzer, runPerfAnalyzer } from "../lib/perf-analyzer.mjs";
import { pinning, SERVER_CPU, startServer, tensorbindServe } from "../lib/procs.mjs";

const { values } = parseArgs({
  options: {
    pairs: { type: "string", default: "3" },
    requests: { type: "string", default: "3000" },
    elements: { type: "string", default: "1024" },
    concurrency: { type: "string", default: "8" },
    smoke: { type: "boolean", default: false },
  },
});
const smoke = values.smoke;
const pairs = smoke ? 1 : Math.max(1, Number(values.pairs));
const requests = smoke ? 200 : Number(values.requests);
const ELEMENTS = Number(values.elements);
const CONCURRENCY = Number(values.concurrency);
const TIMEOUT_MS = Number(process.env.BENCH_RUN_TIMEOUT_MS ?? 300_000);
const { on: pinned, pin } = pinning();

requireFiles([["dist/ (npm run build)", "dist/index.js"]]);
const pa = requirePerfAnalyzer();
if (!existsSync(join(REPO, "bench/native-identity/build/Release/identity.node"))) {
  const r = spawnSync(
    process.execPath,
    [
      join(REPO, "node_modules/cmake-js/bin/cmake-js"),
      "compile",
      "-d",
      "bench/native-identity/addon",
      "-O",
      "bench/native-identity/build",
    ],
    { cwd: REPO, stdio: "inherit" },
  ); // prettier-ignore
  if (r.status !== 0) process.exit(2);
}

async function measure(model, protocol, url) {
  const args = perfAnalyzerArgs({
    model,
    protocol,
    url,
    shape: { INPUT0: ELEMENTS },
    concurrency: CONCURRENCY,
    requestCount: requests,
  });
  const r = await runPerfAnalyzer(pa, args, {
    pin,
    timeoutMs: TIMEOUT_MS,
    retries: 2,
    label: `${model} ${protocol}`,
  });
  return { throughput: r.rps, latencyUs: r.avgUs };
}

const readyFile = join(workDir("tb-bench-native-"), "ready.json");
const server = await startServer({
  argv: pin(
    SERVER_CPU,
    tensorbindServe({ models: "bench/native-identity/models.ts", readyFile, logLevel: "warn" }),
  ),
  readyFile,
  stdout: "inherit",
  stderr: "inherit",
  pollMs: 50,
});
const lines = [
  `perf_analyzer, INPUT0:${ELEMENTS} FP32 (${(ELEMENTS * 4) / 1024} KiB), concurrency ${CONCURRENCY}, ${requests} requests per run, ${pairs} pairs${pinned ? ", server on CPU 0 and perf_analyzer on CPU 1 (taskset)" : ""}${smoke ? " (smoke)" : ""}`,
  "",
  "| protocol | native model | JS infer/s (per pair) | native infer/s (per pair) | ratio native/JS (per pair) | median ratio |",
  "|---|---|---|---|---|---:|",
];
try {
  for (const protocol of ["http", "grpc"]) {
    const url = protocol === "http" ? new URL(server.info.http).host : server.info.grpc;
    for (const model of ["native_identity", "native_identity_copy"]) {
      const js = [];
      const nat = [];
      for (let i = 0; i < pairs; i++) {
        js.push(await measure("js_identity", protocol, url));
        nat.push(await measure(model, protocol, url));
        log(
          `${protocol} ${model} pair ${i + 1}: js ${js[i].throughput.toFixed(0)}/s, native ${nat[i].throughput.toFixed(0)}/s`,
        );
      }
      const ratios = nat.map((n, i) => n.throughput / js[i].throughput);
      const f = (xs) => xs.map((x) => x.throughput.toFixed(0)).join(", ");
      lines.push(
        `| ${protocol} | ${model} | ${f(js)} | ${f(nat)} | ${ratios.map((r) => r.toFixed(3)).join(", ")} | **${median(ratios).toFixed(3)}** |`,
      );
    }
  }
} finally {
  await server.stop();
}
console.log(lines.join("\n"));
