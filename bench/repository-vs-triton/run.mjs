#!/usr/bin/env node
// bench/repository-vs-triton: ONE Triton model repository (Python-backend models: an identity
// and a three-step ensemble of Python models) served by tensorbind (`serve --model-repository`)
// and by real Triton (the tritonserver + python backend that PyPI's nvidia-pytriton ships,
// started by tritonserver.py), driven by the same perf_analyzer command: 4 KiB and 16 MiB,
// concurrency 1 and 8, side by side A B A B; the ratio tensorbind / Triton per pair and its
// median. Also start-up to ready of both. Target P11 (issue 15).
//
//   node bench/repository-vs-triton/run.mjs            full run
//   node bench/repository-vs-triton/run.mjs --smoke    1 pair, short windows
//   ... --ceiling                                       also measures perf_analyzer against a server that
//                                                      costs nothing (bench/lib/canned_infer_server.py):
//                                                      the client's own ceiling on its core
//   ... --baseline ../other-checkout                   also serves the repository with another built
//                                                      checkout of tensorbind (before/after a change),
//                                                      measured in the same rotation
//
// Needs: npm run build, npm run build:native, .venv (scripts/setup-python.sh: numpy, pyzmq,
// pyarrow, perf_analyzer). Creates .venv-pytriton (pip install nvidia-pytriton) on first use.
// Servers run on CPU 0, clients on CPU 1 (taskset), when there are >= 2 CPUs.
// Markdown report on stdout; progress on stderr.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import { loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { fmt, log, machineLine, median, REPO, requireFiles, workDir } from "../lib/common.mjs";
import {
  boundedWindows,
  perfAnalyzerArgs,
  requirePerfAnalyzer,
  runPerfAnalyzer,
} from "../lib/perf-analyzer.mjs";
import { pinning, SERVER_CPU, startServer } from "../lib/procs.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const { values: opt } = parseArgs({
  options: {
    smoke: { type: "boolean", default: false },
    pairs: { type: "string" },
    sizes: { type: "string" }, // FP32 elements, comma separated
    concurrency: { type: "string", default: "1,8" },
    protocol: { type: "string", default: "http" },
    models: { type: "string", default: "identity,pipeline" },
    "startup-runs": { type: "string" },
    "no-pin": { type: "boolean", default: false },
    baseline: { type: "string" },
    ceiling: { type: "boolean", default: false },
  },
});
const smoke = opt.smoke;
const PAIRS = Number(opt.pairs ?? (smoke ? 1 : 2));
const SIZES = (opt.sizes ?? "1024,4194304").split(",").map(Number);
const CONCS = opt.concurrency.split(",").map(Number);
const MODELS = opt.models.split(",");
const STARTUP_RUNS = Number(opt["startup-runs"] ?? (smoke ? 1 : 3));
const NAN = { rps: Number.NaN, p50: Number.NaN, p99: Number.NaN, cpu: Number.NaN };
const human = (el) => {
  const b = el * 4;
  return b >= 1 << 20 ? `${b / (1 << 20)} MiB` : `${b / 1024} KiB`;
};
const { on: pinOk, pin } = pinning(!opt["no-pin"]);
const BASELINE = opt.baseline === undefined ? undefined : resolve(opt.baseline);

const TB_PY = process.env.TENSORBIND_PYTHON ?? join(REPO, ".venv/bin/python");
requireFiles([
  ["tensorbind's python (scripts/setup-python.sh)", TB_PY],
  ["dist/ (npm run build)", "dist/cli/main.js"],
  ["native addon (npm run build:native)", "native/shm/build/Release/tensorbind_shm.node"],
]);
for (const f of ["dist/cli/main.js", "native/shm/build/Release/tensorbind_shm.node"])
  if (BASELINE !== undefined && !existsSync(join(BASELINE, f)))
    throw new Error(`--baseline ${BASELINE}: ${f} is missing (npm run build && npm run build:native there)`);
const PA = requirePerfAnalyzer();

// ------------------------------------------------------------------ Triton (from nvidia-pytriton)
const PT_VENV = join(REPO, ".venv-pytriton");
const PT_PY = join(PT_VENV, "bin/python");
if (!existsSync(PT_PY)) {
  log("creating .venv-pytriton and installing nvidia-pytriton (once)");
  const base = process.env.PYTRITON_BASE_PYTHON ?? "python3";
  let r = spawnSync(base, ["-m", "venv", PT_VENV], { stdio: "inherit" });
  if (r.status === 0)
    r = spawnSync(PT_PY, ["-m", "pip", "install", "-q", "nvidia-pytriton"], { stdio: "inherit" });
  if (r.status !== 0) throw new Error(`could not install nvidia-pytriton (exit ${r.status})`);
}
const ptVersion = spawnSync(
  PT_PY,
  ["-c", "import importlib.metadata as m;print(m.version('nvidia-pytriton'))"],
  {
    encoding: "utf8",
  },
).stdout.trim();
const ptSite = spawnSync(PT_PY, ["-c", "import site;print(':'.join(site.getsitepackages()))"], {
  encoding: "utf8",
}).stdout.trim();

// ------------------------------------------------------------------ the repository
const work = workDir("tb-repovs-");
const repo = join(work, "models");
// Triton's stub starts Python isolated from PYTHONPATH: the models add the site-packages that
// BENCH_SITE names (numpy), which tensorbind's workers already have. Same files for both servers.
const PRELUDE = `import os, sys
sys.path[:0] = [p for p in os.environ.get("BENCH_SITE", "").split(":") if p and p not in sys.path]
import triton_python_backend_utils as pb_utils
`;
const identityPy = (input, output) => `${PRELUDE}
class TritonPythonModel:
    def execute(self, requests):
        return [pb_utils.InferenceResponse([pb_utils.Tensor("${output}",
            pb_utils.get_input_tensor_by_name(r, "${input}").as_numpy())]) for r in requests]
`;
const tensorConfig = (input, output) => `max_batch_size: 8
input [ { name: "${input}" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "${output}" data_type: TYPE_FP32 dims: [ -1 ] } ]
`;
const files = {
  "identity/config.pbtxt": `backend: "python"\n${tensorConfig("INPUT0", "OUTPUT0")}instance_group [ { count: 1 kind: KIND_CPU } ]\n`,
  "identity/1/model.py": identityPy("INPUT0", "OUTPUT0"),
  "pipeline/config.pbtxt": `platform: "ensemble"
${tensorConfig("INPUT0", "OUTPUT0")}ensemble_scheduling { step [
  { model_name: "step_a" model_version: -1 input_map { key: "IN" value: "INPUT0" } output_map { key: "OUT" value: "a" } },
  { model_name: "step_b" model_version: -1 input_map { key: "IN" value: "a" } output_map { key: "OUT" value: "b" } },
  { model_name: "step_c" model_version: -1 input_map { key: "IN" value: "b" } output_map { key: "OUT" value: "OUTPUT0" } }
] }
`,
  "pipeline/1/.keep": "",
};
for (const step of ["step_a", "step_b", "step_c"]) {
  files[`${step}/config.pbtxt`] =
    `backend: "python"\n${tensorConfig("IN", "OUT")}instance_group [ { count: 1 kind: KIND_CPU } ]\n`;
  files[`${step}/1/model.py`] = identityPy("IN", "OUT");
}
for (const [rel, content] of Object.entries(files)) {
  mkdirSync(dirname(join(repo, rel)), { recursive: true });
  writeFileSync(join(repo, rel), content);
}

// ------------------------------------------------------------------ servers
function freePort() {
  return new Promise((res) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });
}
let serial = 0;
async function start(kind) {
  const [http, grpc, metrics] = [await freePort(), await freePort(), await freePort()];
  // biome-ignore format: one flag per line
  const argv =
    kind === "ceiling"
      ? [TB_PY, join(REPO, "bench/lib/canned_infer_server.py"), String(http)]
      : kind !== "triton"
      ? [
          process.execPath, join(kind === "baseline" ? BASELINE : REPO, "bin/tensorbind.js"), "serve",
          "--model-repository", repo,
          "--http-port", String(http), "--grpc-port", String(grpc), "--metrics-port", String(metrics),
          "--max-body-bytes", String(256 << 20), "--log-level", "warn",
          "--ready-file", join(work, `tb-${serial++}.json`),
        ]
      : [PT_PY, join(HERE, "tritonserver.py"), repo, String(http), String(grpc), String(metrics)];
  const s = await startServer({
    argv: pin(SERVER_CPU, argv),
    env: { ...process.env, TENSORBIND_PYTHON: TB_PY, BENCH_SITE: ptSite },
    // ready = the last model to load answers ready, for both
    readyUrl: `http://127.0.0.1:${http}/v2/models/pipeline/ready`,
    timeoutMs: 180_000,
    detached: true, // its own process group: tritonserver and its Python stubs too
    killAfterMs: 20_000,
    name: kind,
  });
  return { ...s, kind, http, grpc };
}

// ------------------------------------------------------------------ clients
function paArgs(s, model, elements, conc) {
  return perfAnalyzerArgs({
    model,
    url: `127.0.0.1:${opt.protocol === "http" ? s.http : s.grpc}`,
    protocol: opt.protocol,
    shape: { INPUT0: elements },
    inputData: "zero",
    concurrency: conc,
    // 1 MiB and more: count windows of a bounded total (perf_analyzer keeps every response, see
    // boundedWindows); smaller: time windows until throughput is stable
    ...(boundedWindows(elements * 4, conc) ?? {
      intervalMs: smoke ? 500 : 2000,
      stability: 100,
      maxTrials: 5,
    }),
  });
}
// CPU time of a server with everything it started (its process group: workers, stubs), in µs.
const TICK_US = 1e6 / Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim() || 100);
function groupCpuUs(pgid) {
  let ticks = 0;
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // f[0] is field 3 (state)
      if (Number(f[2]) === pgid) ticks += Number(f[11]) + Number(f[12]); // pgrp; utime + stime
    } catch {} // gone meanwhile
  }
  return ticks * TICK_US;
}
async function inferences(s, model) {
  const r = await fetch(`http://127.0.0.1:${s.http}/v2/models/${model}/stats`);
  return Number((await r.json()).model_stats[0].inference_count);
}
async function measure(s, model, elements, conc) {
  try {
    if (s.kind === "ceiling") {
      const r = await runPerfAnalyzer(PA, paArgs(s, model, elements, conc), { pin, timeoutMs: 240_000 });
      return { rps: r.rps, p50: r.p50Us, p99: r.p99Us, cpu: Number.NaN }; // it keeps no statistics
    }
    const [cpu0, n0] = [groupCpuUs(s.pid), await inferences(s, model)];
    const r = await runPerfAnalyzer(PA, paArgs(s, model, elements, conc), {
      pin,
      timeoutMs: 240_000,
      label: `${s.kind} ${model} ${elements} c${conc}`,
    });
    // Server CPU per request over the whole run (warm-up windows included), both sides alike.
    const cpu = (groupCpuUs(s.pid) - cpu0) / ((await inferences(s, model)) - n0);
    return { rps: r.rps, p50: r.p50Us, p99: r.p99Us, cpu };
  } catch (e) {
    log(String(e.message).slice(0, 1500));
    return NAN;
  }
}

// ------------------------------------------------------------------ run
const started = new Date();
const load0 = loadavg();
const startup = { tensorbind: [], triton: [] };
for (let i = 0; i < STARTUP_RUNS; i++) {
  for (const kind of ["tensorbind", "triton"]) {
    const s = await start(kind);
    startup[kind].push(s.startupMs);
    log(`startup ${kind}: ${fmt(s.startupMs)} ms`);
    await s.stop();
  }
}
const results = [];
const tb = await start("tensorbind");
const base = BASELINE === undefined ? undefined : await start("baseline");
const tr = await start("triton");
const ceil = opt.ceiling ? await start("ceiling") : undefined;
try {
  for (const model of MODELS) {
    for (const elements of SIZES) {
      for (const conc of CONCS) {
        for (let p = 0; p < PAIRS; p++) {
          const a = await measure(tb, model, elements, conc);
          const c = base === undefined ? undefined : await measure(base, model, elements, conc);
          const b = await measure(tr, model, elements, conc);
          const d = ceil === undefined ? undefined : await measure(ceil, model, elements, conc);
          results.push({ model, elements, conc, pair: p, tb: a, tr: b, base: c, ceil: d });
          log(
            `${model} ${human(elements)} c${conc} pair ${p + 1}: tensorbind ${fmt(a.rps, 1)}/s${c === undefined ? "" : `, baseline ${fmt(c.rps, 1)}/s`}, Triton ${fmt(b.rps, 1)}/s${d === undefined ? "" : `, ceiling ${fmt(d.rps, 1)}/s`}, ratio ${fmt(a.rps / b.rps, 2)}`,
          );
        }
      }
    }
  }
} finally {
  await tb.stop();
  await base?.stop();
  await tr.stop();
  await ceil?.stop();
}
const load1 = loadavg();

// ------------------------------------------------------------------ report
function gitHead(dir) {
  return (
    spawnSync("git", ["-C", dir, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).stdout.trim() || "?"
  );
}
const o = [];
const pr = (s = "") => o.push(s);
pr(`## Model repository: tensorbind vs Triton's Python backend${smoke ? " (smoke)" : ""}`);
pr();
pr(`- date: ${started.toISOString()}; host: ${machineLine({ load: false })}`);
pr(
  `- load average at start ${load0.map((x) => x.toFixed(2)).join(" ")}, at end ${load1.map((x) => x.toFixed(2)).join(" ")}`,
);
pr(
  `- worker hop: ${process.env.TENSORBIND_WORKER_HOP === "zeromq" ? "ZeroMQ (TENSORBIND_WORKER_HOP=zeromq)" : "data socket (default)"}; server CPU: the server's process group (workers, stubs) over each whole perf_analyzer run / inferences`,
);
if (BASELINE !== undefined)
  pr(
    `- baseline: the same repository served by the tensorbind checkout in ${BASELINE} (git ${gitHead(BASELINE)}), against this one (git ${gitHead(REPO)}), in the same rotation`,
  );
pr(`- pinning: ${pinOk ? `servers on CPU ${SERVER_CPU}, clients on the other CPU (taskset)` : "none"}`);
pr(
  `- Triton: the tritonserver and python backend of nvidia-pytriton ${ptVersion}; tensorbind: \`serve --model-repository\`; the same repository (bench/repository-vs-triton/run.mjs writes it): identity and a three-step ensemble of identity Python models, max_batch_size 8, one instance each`,
);
pr(
  `- client: ${PA.version}, \`perf_analyzer ${paArgs({ http: "PORT", grpc: "PORT" }, "MODEL", "N", "C").join(" ")}\` (1 MiB and more: count windows, at most 4, whose responses total under 1 GiB: perf_analyzer keeps them all)`,
);
pr();
pr(
  "| model | tensor | concurrency | tensorbind infer/s | Triton infer/s | ratio (median of pairs) | tensorbind p50 µs | Triton p50 µs | server CPU µs/request: tensorbind / Triton |",
);
pr("|---|---|---|---|---|---|---|---|---|");
for (const model of MODELS) {
  for (const elements of SIZES) {
    for (const conc of CONCS) {
      const rows = results.filter((r) => r.model === model && r.elements === elements && r.conc === conc);
      const ratio = median(rows.map((r) => r.tb.rps / r.tr.rps));
      pr(
        `| ${model} | ${human(elements)} | ${conc} | ${fmt(median(rows.map((r) => r.tb.rps)), 1)} | ${fmt(median(rows.map((r) => r.tr.rps)), 1)} | **${fmt(ratio, 2)}×** | ${fmt(median(rows.map((r) => r.tb.p50)))} | ${fmt(median(rows.map((r) => r.tr.p50)))} | ${fmt(median(rows.map((r) => r.tb.cpu)))} / ${fmt(median(rows.map((r) => r.tr.cpu)))} |`,
      );
    }
  }
}
if (ceil !== undefined) {
  pr();
  pr(
    "The client's ceiling: the same perf_analyzer command against a server that answers at no cost (bench/lib/canned_infer_server.py: bodies dropped, zeros sent back).",
  );
  pr();
  pr(
    "| model | tensor | concurrency | ceiling infer/s | ceiling p50 µs | tensorbind / ceiling | Triton / ceiling |",
  );
  pr("|---|---|---|---|---|---|---|");
  for (const model of MODELS)
    for (const elements of SIZES)
      for (const conc of CONCS) {
        const rows = results.filter((r) => r.model === model && r.elements === elements && r.conc === conc);
        const m = (f) => median(rows.map(f));
        pr(
          `| ${model} | ${human(elements)} | ${conc} | ${fmt(
            m((r) => r.ceil.rps),
            1,
          )} | ${fmt(m((r) => r.ceil.p50))} | ${fmt(
            m((r) => r.tb.rps / r.ceil.rps),
            2,
          )} | ${fmt(
            m((r) => r.tr.rps / r.ceil.rps),
            2,
          )} |`,
        );
      }
}
if (BASELINE !== undefined) {
  pr();
  pr(
    "| model | tensor | concurrency | baseline infer/s | tensorbind infer/s | tensorbind / baseline (median of pairs) | baseline / Triton | server CPU µs/request: baseline / tensorbind / Triton |",
  );
  pr("|---|---|---|---|---|---|---|---|");
  for (const model of MODELS) {
    for (const elements of SIZES) {
      for (const conc of CONCS) {
        const rows = results.filter((r) => r.model === model && r.elements === elements && r.conc === conc);
        const m = (f) => median(rows.map(f));
        pr(
          `| ${model} | ${human(elements)} | ${conc} | ${fmt(
            m((r) => r.base.rps),
            1,
          )} | ${fmt(
            m((r) => r.tb.rps),
            1,
          )} | **${fmt(
            m((r) => r.tb.rps / r.base.rps),
            2,
          )}×** | ${fmt(
            m((r) => r.base.rps / r.tr.rps),
            2,
          )}× | ${fmt(m((r) => r.base.cpu))} / ${fmt(m((r) => r.tb.cpu))} / ${fmt(m((r) => r.tr.cpu))} |`,
        );
      }
    }
  }
}
pr();
pr("| start-up to ready (all five models) | runs (ms) | median (ms) |");
pr("|---|---|---|");
pr(
  `| tensorbind | ${startup.tensorbind.map((x) => fmt(x)).join(", ")} | ${fmt(median(startup.tensorbind))} |`,
);
pr(
  `| Triton (tritonserver + python backend stubs) | ${startup.triton.map((x) => fmt(x)).join(", ")} | ${fmt(median(startup.triton))} |`,
);
process.stdout.write(`${o.join("\n")}\n`);
