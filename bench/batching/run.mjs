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
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
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

const perfAnalyzer =
  process.env.PERF_ANALYZER ??
  (existsSync(join(ROOT, ".venv/bin/perf_analyzer"))
    ? join(ROOT, ".venv/bin/perf_analyzer")
    : "perf_analyzer");
const python =
  process.env.TENSORBIND_PYTHON ??
  (existsSync(join(ROOT, ".venv/bin/python")) ? join(ROOT, ".venv/bin/python") : "python3");

if (!existsSync(join(ROOT, "dist/cli/main.js"))) {
  console.error("dist/ is missing: run `npm run build` first");
  process.exit(2);
}

async function startServer() {
  const tmp = mkdtempSync(join(tmpdir(), "tb-bench-"));
  const ready = join(tmp, "ready.json");
  const args = [
    "bin/tensorbind.js",
    "serve",
    "bench/batching/models.ts",
    "--http-port",
    "0",
    "--grpc-port",
    "0",
    "--log-level",
    "warn",
    "--ready-file",
    ready,
  ]; // prettier-ignore
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, TENSORBIND_PYTHON: python },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const deadline = Date.now() + 180_000; // torch imports take a while on a busy machine
  let info;
  while (!info) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error("the server did not start");
    await new Promise((r) => setTimeout(r, 100));
    if (existsSync(ready)) {
      try {
        info = JSON.parse(readFileSync(ready, "utf8"));
      } catch {}
    }
  }
  const stop = () =>
    new Promise((r) => {
      child.once("exit", () => {
        rmSync(tmp, { recursive: true, force: true });
        r();
      });
      child.kill("SIGTERM");
    });
  return { info, stop };
}

function measure(address, model) {
  const args = [
    "-m",
    model,
    "-i",
    protocol,
    "-u",
    address,
    "-b",
    "1",
    "--input-data",
    "random",
    "--concurrency-range",
    `${concurrency}:${concurrency}`,
    "--measurement-interval",
    String(intervalMs),
    "-s",
    "100",
    "--max-trials",
    "6",
    "--percentile",
    "99",
  ]; // prettier-ignore
  // Give each run a time limit and retry it once or twice (counted in the output): perf_analyzer's
  // --request-count mode was seen to sleep forever after its last answer here.
  for (let attempt = 1; ; attempt++) {
    const res = spawnSync(perfAnalyzer, args, {
      encoding: "utf8",
      timeout: RUN_TIMEOUT_MS,
      killSignal: "SIGKILL",
    });
    const text = `${res.stdout ?? ""}${res.stderr ?? ""}`;
    const throughput = Number(/Throughput:\s*([0-9.]+)\s*infer\/sec/.exec(text)?.[1]);
    const p99 = Number(/p99 latency:\s*([0-9]+)\s*usec/.exec(text)?.[1]);
    if (Number.isFinite(throughput) && throughput > 0) return { throughput, p99Us: p99, attempts: attempt };
    if (attempt >= 3)
      throw new Error(`perf_analyzer failed on ${model} (exit ${res.status}):\n${text.slice(-2000)}`);
    console.error(`perf_analyzer on ${model}: ${res.error?.message ?? `exit ${res.status}`}; retrying`);
  }
}

async function batchSizes(httpUrl, model) {
  const s = (await (await fetch(`${httpUrl}/v2/models/${model}/stats`)).json()).model_stats[0];
  return {
    inferences: s.inference_count,
    executions: s.execution_count,
    mean: s.inference_count / s.execution_count,
  };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

const { info, stop } = await startServer();
// A time limit (`timeout …`) must not leave the server and its workers behind.
for (const sig of ["SIGTERM", "SIGINT"]) process.once(sig, () => void stop().then(() => process.exit(1)));
const results = Object.fromEntries(kinds.map((k) => [k, []]));
try {
  const address = protocol === "grpc" ? info.grpc : new URL(info.http).host;
  for (const kind of kinds) measure(address, `${kind}_batching`); // warm-up (torch's first calls are slow)
  for (let p = 0; p < pairs; p++) {
    for (const kind of kinds) {
      const on = measure(address, `${kind}_batching`);
      const off = measure(address, `${kind}_single`);
      results[kind].push({ on, off, ratio: on.throughput / off.throughput });
      console.error(
        `pair ${p + 1} ${kind}: on ${on.throughput.toFixed(1)}/s, off ${off.throughput.toFixed(1)}/s`,
      );
    }
  }
  const stats = {};
  for (const kind of kinds) stats[kind] = await batchSizes(info.http, `${kind}_batching`);
  const load = loadavg()[0].toFixed(1);
  console.log(
    `\nMachine: ${cpus()[0]?.model ?? "?"} × ${cpus().length}, load average ${load}, ` +
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
