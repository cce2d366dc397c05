// perf_analyzer for the benches: finding it, its command line, and one measurement with a time
// limit and retries. The time limit matters: perf_analyzer's --request-count mode was seen to
// sleep forever after its last answer on a busy machine, and a bench must then go on, not hang.
import { spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { log, REPO } from "./common.mjs";
import { CLIENT_CPU, runChild, shutdown } from "./procs.mjs";

function works(path) {
  try {
    accessSync(path, constants.X_OK);
  } catch {
    return null;
  }
  const r = spawnSync(path, ["--version"], { encoding: "utf8", timeout: 60_000 });
  const out = `${r.stdout ?? ""}${r.stderr ?? ""}`.trim();
  return out.includes("Perf Analyzer Version") ? out.split("\n")[0] : null;
}

/**
 * The first perf_analyzer that answers --version: $PERF_ANALYZER, .venv/bin/perf_analyzer
 * (scripts/setup-python.sh), then PATH. Returns {path, version} or null.
 * Example: const pa = findPerfAnalyzer() ?? fail("perf_analyzer not found");
 */
export function findPerfAnalyzer() {
  const env = process.env.PERF_ANALYZER;
  const onPath = (process.env.PATH ?? "").split(delimiter).filter(Boolean);
  for (const path of [
    env,
    join(REPO, ".venv/bin/perf_analyzer"),
    ...onPath.map((d) => join(d, "perf_analyzer")),
  ]) {
    if (!path) continue;
    const version = works(path);
    if (version) return { path, version };
    if (path === env) log(`PERF_ANALYZER=${env} does not answer --version; looking further`);
  }
  return null;
}

/** findPerfAnalyzer(), or exit 2 with what to install. Example: const pa = requirePerfAnalyzer(); */
export function requirePerfAnalyzer() {
  const pa = findPerfAnalyzer();
  if (pa) return pa;
  log("perf_analyzer not found (scripts/setup-python.sh, or PERF_ANALYZER)");
  process.exit(2);
}

/**
 * perf_analyzer's arguments (without the binary) for one fixed-concurrency measurement.
 * Give requestCount (a fixed number of requests: no stability search), countWindow (windows of
 * that many requests) or intervalMs (time windows). shape: {INPUT0: 1024} → --shape INPUT0:1024.
 * tensorFormat "json": JSON tensors both ways (default: binary).
 * Example: perfAnalyzerArgs({ model: "identity_fp32", url: "127.0.0.1:8001", protocol: "grpc",
 *   shape: { INPUT0: 1024 }, concurrency: 8, requestCount: 4000 })
 */
export function perfAnalyzerArgs({
  model,
  url,
  protocol = "http",
  batch = 1,
  shape = {},
  inputData = "random",
  concurrency,
  requestCount,
  countWindow,
  intervalMs,
  stability,
  maxTrials,
  percentile,
  tensorFormat,
  extra = [],
}) {
  const args = ["-m", model, "-i", protocol, "-u", url, "-b", String(batch)];
  for (const [name, dims] of Object.entries(shape)) args.push("--shape", `${name}:${dims}`);
  args.push("--input-data", inputData, "--concurrency-range", `${concurrency}:${concurrency}`);
  if (requestCount !== undefined) args.push("--request-count", String(requestCount));
  if (countWindow !== undefined) {
    args.push("--measurement-mode", "count_windows", "--measurement-request-count", String(countWindow));
  }
  if (intervalMs !== undefined) args.push("--measurement-interval", String(intervalMs));
  if (stability !== undefined) args.push("-s", String(stability));
  if (maxTrials !== undefined) args.push("--max-trials", String(maxTrials));
  if (percentile !== undefined) args.push("--percentile", String(percentile));
  if (tensorFormat === "json") args.push("--input-tensor-format", "json", "--output-tensor-format", "json");
  return [...args, ...extra];
}

/**
 * Measurement options for one run of responses of `responseBytes`: undefined below 1 MiB (time
 * windows are fine there), else at most 4 count windows whose requests total about `budget`
 * bytes of the client's memory. perf_analyzer (the PyPI build the benches use) records every
 * response's outputs and keeps about four times each response's bytes until it exits, so a
 * stability search over many large requests fills the client machine's memory and stalls
 * (1 MiB at ~600 infer/s: ~2.4 GB per second of measuring). Not --request-count: its
 * throughput is the count over whole seconds (48 requests read 23.9 or 15.9 infer/s, nothing
 * between). This bounds a run at 16 MiB and concurrency 1. It does not at concurrency 8: there
 * perf_analyzer pinned to one core spends its time in page faults and its memory grows far past
 * the windows' requests against a server faster than Triton's (16 MiB: ~20/s; 1 MiB: ~500/s),
 * even one that costs nothing (docs/PERFORMANCE.md, P11), so bench/python-vs-pytriton keeps
 * its time windows at 1 MiB (its c1 cells finish, c8 often not).
 * Example: boundedWindows(16 << 20, 1) → { countWindow: 16, maxTrials: 4, stability: 100 }
 */
export function boundedWindows(responseBytes, concurrency, budget = 2 ** 32) {
  if (responseBytes < 1 << 20) return undefined;
  const maxTrials = 4;
  const total = Math.min(2000, Math.floor(budget / (4 * responseBytes)));
  return { countWindow: Math.max(2 * concurrency, Math.floor(total / maxTrials)), maxTrials, stability: 100 };
}

/** The figures of perf_analyzer's summary (NaN for what it did not print). */
export function parsePerfAnalyzer(out) {
  const num = (re) => {
    const m = re.exec(out);
    return m ? Number(m[1]) : Number.NaN;
  };
  return {
    rps: num(/Throughput:\s*([0-9.]+)\s*infer\/sec/),
    p50Us: num(/p50 latency:\s*([0-9]+)\s*usec/),
    p99Us: num(/p99 latency:\s*([0-9]+)\s*usec/),
    avgUs: num(/Avg latency:\s*([0-9]+)\s*usec/),
  };
}

/**
 * Runs perf_analyzer (`pa`: findPerfAnalyzer()'s answer or a path) with `args`, on the client CPU
 * through `pin` (pinning()'s pin), killed after timeoutMs (default $BENCH_RUN_TIMEOUT_MS or
 * 120 s) and tried again up to `retries` times. Resolves with {rps, p50Us, p99Us, avgUs,
 * attempts, out}; rejects when no attempt gave a throughput. A run that printed a throughput
 * but exited non-zero (perf_analyzer exits 2 when its windows never agreed) counts only with
 * acceptNonZeroExit.
 * Example: const r = await runPerfAnalyzer(pa, args, { pin, timeoutMs: 90_000, retries: 2 });
 */
export async function runPerfAnalyzer(
  pa,
  args,
  {
    pin = (_cpu, argv) => argv,
    timeoutMs = Number(process.env.BENCH_RUN_TIMEOUT_MS ?? 120_000),
    retries = 0,
    acceptNonZeroExit = false,
    label = "",
  } = {},
) {
  const path = typeof pa === "string" ? pa : pa.path;
  const what = `perf_analyzer${label ? ` (${label})` : ""}`;
  for (let attempt = 1; ; attempt++) {
    const { code, signal, out, timedOut } = await runChild(pin(CLIENT_CPU, [path, ...args]), { timeoutMs });
    const r = parsePerfAnalyzer(out);
    if (r.rps > 0 && !timedOut && (code === 0 || acceptNonZeroExit)) return { ...r, attempts: attempt, out };
    const why = timedOut
      ? `no end within ${timeoutMs} ms, killed`
      : `${r.rps > 0 ? "" : "no throughput, "}exit ${code ?? signal}`;
    if (attempt > retries || shutdown()) {
      throw new Error(`${what} failed (${why}, attempt ${attempt}):\n${out.slice(-2000)}`);
    }
    log(`${what}: ${why}; trying again (${attempt + 1} of ${retries + 1})`);
  }
}
