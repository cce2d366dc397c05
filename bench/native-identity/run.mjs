#!/usr/bin/env node
// Native identity vs JS identity, one server, the same perf_analyzer command for each model,
// alternating (A B A B …) over HTTP and gRPC; each pair gives a throughput ratio native/JS and
// the median ratio is the result. `native_identity` forwards the input's bytes (no copy),
// `native_identity_copy` writes a fresh output like a real model; `js_identity` returns its input.
//
//   node bench/native-identity/run.mjs [--pairs N] [--requests N] [--elements N] [--smoke]
//
// Needs `npm run build`, cmake-js (builds the addon when missing) and perf_analyzer
// (.venv/bin/perf_analyzer, PERF_ANALYZER or PATH). With taskset, the server runs on CPU 0 and
// perf_analyzer on CPU 1.
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
const taskset = spawnSync("taskset", ["--version"]).status === 0;
const pin = (cpu, cmd, args) => (taskset ? ["taskset", ["-c", String(cpu), cmd, ...args]] : [cmd, args]);

const perfAnalyzer =
  process.env.PERF_ANALYZER ??
  (existsSync(join(ROOT, ".venv/bin/perf_analyzer"))
    ? join(ROOT, ".venv/bin/perf_analyzer")
    : "perf_analyzer");

if (!existsSync(join(ROOT, "dist/index.js"))) {
  console.error("dist/ is missing: run `npm run build` first");
  process.exit(2);
}
if (!existsSync(join(ROOT, "bench/native-identity/build/Release/identity.node"))) {
  const r = spawnSync(
    process.execPath,
    [
      join(ROOT, "node_modules/cmake-js/bin/cmake-js"),
      "compile",
      "-d",
      "bench/native-identity/addon",
      "-O",
      "bench/native-identity/build",
    ],
    { cwd: ROOT, stdio: "inherit" },
  ); // prettier-ignore
  if (r.status !== 0) process.exit(2);
}

async function startServer() {
  const tmp = mkdtempSync(join(tmpdir(), "tb-bench-native-"));
  const ready = join(tmp, "ready.json");
  const [cmd, args] = pin(0, process.execPath, [
    "bin/tensorbind.js",
    "serve",
    "bench/native-identity/models.ts",
    "--http-port",
    "0",
    "--grpc-port",
    "0",
    "--log-level",
    "warn",
    "--ready-file",
    ready,
  ]); // prettier-ignore
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] });
  const deadline = Date.now() + 30_000;
  let info;
  while (!info) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error("server did not start");
    await new Promise((r) => setTimeout(r, 50));
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
  return { http: new URL(info.http).host, grpc: info.grpc, stop };
}

function measure(model, protocol, url) {
  const [cmd, args] = pin(1, perfAnalyzer, [
    "-m",
    model,
    "-i",
    protocol,
    "-u",
    url,
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
  ]); // prettier-ignore
  const res = spawnSync(cmd, args, { encoding: "utf8", timeout: 300_000 });
  const text = `${res.stdout ?? ""}${res.stderr ?? ""}`;
  const throughput = Number(/Throughput:\s*([0-9.]+)\s*infer\/sec/.exec(text)?.[1]);
  const latencyUs = Number(/Avg latency:\s*([0-9]+)\s*usec/.exec(text)?.[1]);
  if (!Number.isFinite(throughput) || throughput <= 0) {
    throw new Error(`perf_analyzer failed (exit ${res.status}):\n${text.slice(-2000)}`);
  }
  return { throughput, latencyUs };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const server = await startServer();
const lines = [
  `perf_analyzer, INPUT0:${ELEMENTS} FP32 (${(ELEMENTS * 4) / 1024} KiB), concurrency ${CONCURRENCY}, ${requests} requests per run, ${pairs} pairs${taskset ? ", server on CPU 0 and perf_analyzer on CPU 1 (taskset)" : ""}${smoke ? " (smoke)" : ""}`,
  "",
  "| protocol | native model | JS infer/s (per pair) | native infer/s (per pair) | ratio native/JS (per pair) | median ratio |",
  "|---|---|---|---|---|---:|",
];
try {
  for (const protocol of ["http", "grpc"]) {
    const url = protocol === "http" ? server.http : server.grpc;
    for (const model of ["native_identity", "native_identity_copy"]) {
      const js = [];
      const nat = [];
      for (let i = 0; i < pairs; i++) {
        js.push(measure("js_identity", protocol, url));
        nat.push(measure(model, protocol, url));
        process.stderr.write(
          `${protocol} ${model} pair ${i + 1}: js ${js[i].throughput.toFixed(0)}/s, native ${nat[i].throughput.toFixed(0)}/s\n`,
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
