#!/usr/bin/env node
// tensorbind's gRPC frontend vs a bare @grpc/grpc-js echo of the same ModelInfer message.
// Both are driven by the same client (perf_analyzer -i grpc, identity_fp32, 4 KiB tensors,
// concurrency 8), alternating A B A B so that drift on a shared machine hits both alike; each
// pair gives a throughput ratio and the median ratio is the result.
//
//   node bench/grpc-identity/run.mjs [--pairs N] [--requests N] [--smoke]
//
// Each measurement is a fixed request count (perf_analyzer --request-count), which skips
// perf_analyzer's stability search: on a shared machine that search often never settles.
//
// Needs `npm run build` and perf_analyzer (.venv/bin/perf_analyzer, or PERF_ANALYZER, or PATH).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
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

function perfAnalyzer() {
  if (process.env.PERF_ANALYZER) return process.env.PERF_ANALYZER;
  const venv = join(ROOT, ".venv/bin/perf_analyzer");
  if (existsSync(venv)) return venv;
  return "perf_analyzer";
}

if (!existsSync(join(ROOT, "dist/protocol/grpc/load.js"))) {
  console.error("dist/ is missing: run `npm run build` first");
  process.exit(2);
}

/** Starts a server process; resolves with its gRPC host:port and a stop function. */
async function start(kind) {
  const tmp = mkdtempSync(join(tmpdir(), "tb-bench-"));
  const ready = join(tmp, "ready.json");
  const args =
    kind === "tensorbind"
      ? [
          "bin/tensorbind.js",
          "serve",
          "examples/quickstart/models.ts",
          "--http-port",
          "0",
          "--grpc-port",
          "0",
          "--log-level",
          "warn",
          "--ready-file",
          ready,
        ]
      : ["bench/grpc-identity/bare-server.mjs"];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (d) => {
    out += d;
  });
  const deadline = Date.now() + 30_000;
  let address;
  while (!address) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`${kind} did not start`);
    await new Promise((r) => setTimeout(r, 50));
    if (kind === "tensorbind" && existsSync(ready)) {
      try {
        address = JSON.parse(readFileSync(ready, "utf8")).grpc;
      } catch {}
    } else if (kind === "bare" && out.includes("\n")) address = JSON.parse(out.split("\n")[0]).grpc;
  }
  const stop = () =>
    new Promise((r) => {
      child.once("exit", () => {
        rmSync(tmp, { recursive: true, force: true });
        r();
      });
      child.kill("SIGTERM");
    });
  return { address, stop };
}

function measure(address) {
  const args = [
    "-m",
    "identity_fp32",
    "-i",
    "grpc",
    "-u",
    address,
    "-b",
    "1",
    "--shape",
    `INPUT0:${ELEMENTS}`,
    "--input-data",
    "random",
    "--concurrency-range",
    `${CONCURRENCY}:${CONCURRENCY}`,
    "--request-count",
    String(requests),
  ]; // prettier-ignore
  const res = spawnSync(perfAnalyzer(), args, { encoding: "utf8", timeout: 180_000 });
  const text = `${res.stdout ?? ""}${res.stderr ?? ""}`;
  const throughput = Number(/Throughput:\s*([0-9.]+)\s*infer\/sec/.exec(text)?.[1]);
  const latency = Number(/Avg latency:\s*([0-9]+)\s*usec/.exec(text)?.[1]);
  if (!Number.isFinite(throughput) || throughput <= 0) {
    throw new Error(`perf_analyzer failed (exit ${res.status}):\n${text.slice(-2000)}`);
  }
  return { throughput, latencyUs: latency };
}

async function run(kind) {
  const s = await start(kind);
  try {
    return measure(s.address);
  } finally {
    await s.stop();
  }
}

const rows = [];
for (let i = 1; i <= pairs; i++) {
  const a = await run("tensorbind");
  const b = await run("bare");
  rows.push({ pair: i, a, b, ratio: a.throughput / b.throughput });
  process.stderr.write(
    `pair ${i}: tensorbind ${a.throughput.toFixed(0)}/s, bare ${b.throughput.toFixed(0)}/s\n`,
  );
}
const ratios = rows.map((r) => r.ratio).sort((x, y) => x - y);
const median =
  ratios.length % 2
    ? ratios[(ratios.length - 1) / 2]
    : (ratios[ratios.length / 2 - 1] + ratios[ratios.length / 2]) / 2;

const lines = [
  `perf_analyzer -i grpc, identity_fp32, INPUT0:${ELEMENTS} (4 KiB FP32), concurrency ${CONCURRENCY}, ${requests} requests per run${smoke ? " (smoke)" : ""}`,
  "",
  "| pair | tensorbind infer/s | tensorbind avg latency (µs) | bare grpc-js infer/s | bare avg latency (µs) | ratio (A/B) |",
  "|---:|---:|---:|---:|---:|---:|",
  ...rows.map(
    (r) =>
      `| ${r.pair} | ${r.a.throughput.toFixed(1)} | ${r.a.latencyUs} | ${r.b.throughput.toFixed(1)} | ${r.b.latencyUs} | ${r.ratio.toFixed(3)} |`,
  ),
  `| **median** | | | | | **${median.toFixed(3)}** |`,
];
console.log(lines.join("\n"));
