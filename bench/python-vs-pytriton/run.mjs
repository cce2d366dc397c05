#!/usr/bin/env node
// bench/python-vs-pytriton: the same Python identity function (identity.py: numpy FP32
// INPUT0 [1, N] -> OUTPUT0) served by tensorbind (models.ts + model.py) and by PyTriton
// (pytriton_server.py; PyPI nvidia-pytriton, which bundles tritonserver), driven by the same
// perf_analyzer command: 4 KiB / 1 MiB / 64 MiB, concurrency 1 and 8, HTTP and gRPC, side by
// side A B A B; ratio tensorbind / PyTriton per pair and its median. Also start-up to ready
// of both, and a bare loopback TCP echo of 64 MiB (echo.mjs) as the physical limit.
// Targets P1, P2, P5 (docs/PERFORMANCE.md).
//
//   node bench/python-vs-pytriton/run.mjs            full run (~15 min on the 2-core machine)
//   node bench/python-vs-pytriton/run.mjs --smoke    1 pair, short windows, 4 KiB + 1 MiB only
//
// Needs: npm run build, npm run build:native, .venv (scripts/setup-python.sh: numpy, pyzmq,
// pyarrow, perf_analyzer). Creates .venv-pytriton (pip install nvidia-pytriton) on first use.
// Servers run on CPU 0, clients on CPU 1 (taskset), when there are >= 2 CPUs.
// Markdown report on stdout; progress on stderr.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import net from "node:net";
import { loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { fmt, log, machineLine, median, REPO, requireFiles, workDir } from "../lib/common.mjs";
import { perfAnalyzerArgs, requirePerfAnalyzer, runPerfAnalyzer } from "../lib/perf-analyzer.mjs";
import { CLIENT_CPU, pinning, runChild, SERVER_CPU, startServer, tensorbindServe } from "../lib/procs.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const { values: opt } = parseArgs({
  options: {
    smoke: { type: "boolean", default: false },
    pairs: { type: "string" },
    sizes: { type: "string" }, // elements, comma separated
    concurrency: { type: "string", default: "1,8" },
    protocols: { type: "string", default: "http,grpc" },
    "startup-runs": { type: "string" },
    "no-pin": { type: "boolean", default: false },
    "skip-pytriton": { type: "boolean", default: false },
  },
});
const smoke = opt.smoke;
const PAIRS = Number(opt.pairs ?? (smoke ? 1 : 2));
const SIZES = (opt.sizes ?? (smoke ? "1024,262144" : "1024,262144,16777216")).split(",").map(Number);
const CONCS = opt.concurrency.split(",").map(Number);
const PROTOS = opt.protocols.split(",");
const STARTUP_RUNS = Number(opt["startup-runs"] ?? (smoke ? 1 : 3));
const windowMs = (elements) => (smoke ? 500 : elements >= 1 << 24 ? 5000 : 1500);
const NAN = { rps: Number.NaN, p50: Number.NaN, p99: Number.NaN };

const human = (el) => {
  const b = el * 4;
  return b >= 1 << 20 ? `${b / (1 << 20)} MiB` : `${b / 1024} KiB`;
};

const { on: pinOk, pin } = pinning(!opt["no-pin"]);

const TB_PY = process.env.TENSORBIND_PYTHON ?? join(REPO, ".venv/bin/python");
requireFiles([
  ["tensorbind's python (scripts/setup-python.sh)", TB_PY],
  ["dist/ (npm run build)", "dist/cli/main.js"],
  ["native addon (npm run build:native)", "native/shm/build/Release/tensorbind_shm.node"],
]);
const PA = requirePerfAnalyzer();

// ------------------------------------------------------------------ PyTriton venv
const PT_VENV = join(REPO, ".venv-pytriton");
const PT_PY = join(PT_VENV, "bin/python");
let ptEnv = null;
let ptProblem = null;
function setupPyTriton() {
  if (!existsSync(PT_PY)) {
    log("creating .venv-pytriton and installing nvidia-pytriton (once)");
    const base = process.env.PYTRITON_BASE_PYTHON ?? "python3";
    let r = spawnSync(base, ["-m", "venv", PT_VENV], { stdio: "inherit" });
    if (r.status === 0)
      r = spawnSync(PT_PY, ["-m", "pip", "install", "-q", "nvidia-pytriton"], { stdio: "inherit" });
    if (r.status !== 0) return `could not install nvidia-pytriton (exit ${r.status})`;
  }
  // PyTriton's python-backend stub links the system's libpython3.X.so (Debian's 3.11.2) but
  // runs the venv's standard library; when the venv's interpreter is another patch release
  // (pyenv 3.11.7 here) the stub fails in multiprocessing ('_thread.RLock' object has no
  // attribute '_recursion_count'). Put the venv interpreter's own libpython first.
  const libdir = spawnSync(
    PT_PY,
    ["-c", "import sysconfig;print(sysconfig.get_config_var('LIBDIR') or '')"],
    {
      encoding: "utf8",
    },
  ).stdout.trim();
  const ld = [libdir, process.env.LD_LIBRARY_PATH].filter(Boolean).join(":");
  ptEnv = { ...process.env, LD_LIBRARY_PATH: ld };
  return null;
}
if (!opt["skip-pytriton"]) ptProblem = setupPyTriton();
else ptProblem = "--skip-pytriton";
if (ptProblem) log(`PyTriton not available: ${ptProblem}`);

const work = workDir("tb-pyvs-");

function freePort() {
  return new Promise((res) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });
}

// ------------------------------------------------------------------ servers
let serial = 0;
async function start(kind) {
  const [http, grpc, metrics] = [await freePort(), await freePort(), await freePort()];
  const argv =
    kind === "tensorbind"
      ? tensorbindServe({
          models: join(HERE, "models.ts"),
          http,
          grpc,
          metrics,
          // 64 MiB of tensor plus the request header exceeds the 64 MiB default body limit
          extra: ["--max-body-bytes", String(256 << 20)],
          readyFile: join(work, `tb-${serial++}.json`),
        })
      : [PT_PY, join(HERE, "pytriton_server.py"), String(http), String(grpc), String(metrics)];
  const s = await startServer({
    argv: pin(SERVER_CPU, argv),
    env: kind === "tensorbind" ? { ...process.env, TENSORBIND_PYTHON: TB_PY } : ptEnv,
    // "ready" = the model answers ready: PyTriton's tritonserver reports /v2/health/ready
    // before PyTriton has loaded the model (explicit model control), so health alone would flatter it
    readyUrl: `http://127.0.0.1:${http}/v2/models/identity/ready`,
    timeoutMs: 120_000,
    detached: true, // its own process group: tritonserver and the Python backend stubs too
    killAfterMs: 20_000,
    name: kind,
  });
  return { ...s, kind, http, grpc };
}

// ------------------------------------------------------------------ clients
function paArgs(s, proto, elements, conc) {
  return perfAnalyzerArgs({
    model: "identity",
    url: `127.0.0.1:${proto === "http" ? s.http : s.grpc}`,
    protocol: proto,
    shape: { INPUT0: elements },
    inputData: "zero",
    concurrency: conc,
    // 64 MiB: count windows (a few requests each) rather than time windows, which can close
    // with no request completed on a slow machine ("No valid requests recorded")
    ...(elements >= 1 << 24 ? { countWindow: Math.max(2, conc) } : { intervalMs: windowMs(elements) }),
    stability: 100,
    maxTrials: 5,
  });
}
async function perfAnalyzer(s, proto, elements, conc) {
  try {
    const r = await runPerfAnalyzer(PA, paArgs(s, proto, elements, conc), {
      pin,
      timeoutMs: 180_000,
      label: `${s.kind} ${proto} ${elements} c${conc}`,
    });
    return { rps: r.rps, p50: r.p50Us, p99: r.p99Us };
  } catch (e) {
    log(String(e.message).slice(0, 1500));
    return NAN;
  }
}

// ------------------------------------------------------------------ run
const started = new Date();
const load0 = loadavg();
const results = []; // {size, conc, proto, pair, tb, pt}
const startup = { tensorbind: [], pytriton: [] };
const echo = [];
let memcpyGBs = Number.NaN;

// start-up, alternating
for (let i = 0; i < STARTUP_RUNS; i++) {
  for (const kind of ptProblem ? ["tensorbind"] : ["tensorbind", "pytriton"]) {
    try {
      const s = await start(kind);
      startup[kind].push(s.startupMs);
      log(`startup ${kind}: ${fmt(s.startupMs)} ms`);
      await s.stop();
    } catch (e) {
      log(String(e.message).slice(0, 3000));
      if (kind === "pytriton") ptProblem = `start failed: ${String(e.message).split("\n")[0]}`;
    }
  }
}

const tb = await start("tensorbind");
const pt = ptProblem
  ? null
  : await start("pytriton").catch((e) => {
      ptProblem = String(e.message).slice(0, 400);
      return null;
    });
try {
  for (const elements of SIZES) {
    for (const conc of CONCS) {
      for (const proto of PROTOS) {
        for (let p = 0; p < PAIRS; p++) {
          const a = await perfAnalyzer(tb, proto, elements, conc);
          const b = pt ? await perfAnalyzer(pt, proto, elements, conc) : null;
          results.push({ elements, conc, proto, pair: p, tb: a, pt: b });
          log(
            `${human(elements)} c${conc} ${proto} pair ${p + 1}: tensorbind ${fmt(a.rps, 1)}/s` +
              (b ? `, PyTriton ${fmt(b.rps, 1)}/s, ratio ${fmt(a.rps / b.rps, 2)}` : ""),
          );
        }
      }
    }
  }
} finally {
  await tb.stop();
  if (pt) await pt.stop();
}

// physical limits for the largest size: loopback TCP echo and memcpy
const big = Math.max(...SIZES) * 4;
{
  const readyFile = join(work, "echo.json");
  const srv = await startServer({
    argv: pin(SERVER_CPU, [process.execPath, join(HERE, "echo.mjs"), "server", "--ready-file", readyFile]),
    readyFile,
    stderr: "ignore",
    name: "echo server",
  });
  const { port } = srv.info;
  for (const conc of CONCS) {
    for (let p = 0; p < PAIRS; p++) {
      const { out } = await runChild(
        pin(CLIENT_CPU, [
          process.execPath,
          join(HERE, "echo.mjs"),
          "client",
          "--port",
          String(port),
          "--bytes",
          String(big),
          "--concurrency",
          String(conc),
          "--duration-ms",
          smoke ? "1000" : "3000",
        ]),
        { timeoutMs: 60_000 },
      );
      try {
        echo.push({ conc, ...JSON.parse(out.trim().split("\n").pop()) });
      } catch {
        log(`echo client failed: ${out.slice(-500)}`);
      }
    }
  }
  await srv.stop();
  const src = Buffer.alloc(big, 1);
  const dst = Buffer.alloc(big);
  src.copy(dst);
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < 1000) {
    src.copy(dst);
    n++;
  }
  memcpyGBs = (n * big) / ((performance.now() - t0) / 1000) / 1e9;
}
const load1 = loadavg();

// ------------------------------------------------------------------ report
const o = [];
const pr = (s = "") => o.push(s);
const ptVer = ptProblem
  ? "n/a"
  : spawnSync(PT_PY, ["-c", "import importlib.metadata as m;print(m.version('nvidia-pytriton'))"], {
      encoding: "utf8",
    }).stdout.trim();
pr(`## Python identity: tensorbind vs PyTriton${smoke ? " (smoke)" : ""}`);
pr();
pr(`- date: ${started.toISOString()}; host: ${machineLine({ load: false })}`);
pr(
  `- load average at start ${load0.map((x) => x.toFixed(2)).join(" ")}, at end ${load1.map((x) => x.toFixed(2)).join(" ")}`,
);
pr(`- pinning: ${pinOk ? `servers on CPU ${SERVER_CPU}, clients on CPU ${CLIENT_CPU} (taskset)` : "none"}`);
pr(
  `- client: ${PA.version}, \`perf_analyzer ${paArgs({ http: "PORT", grpc: "PORT" }, "http", "N", "C").join(" ")}\` (64 MiB: --measurement-mode count_windows --measurement-request-count max(2, C) instead of time windows), -i http|grpc, binary tensors`,
);
pr(
  `- PyTriton: nvidia-pytriton ${ptVer} (tritonserver 2.51.0 bundled), ${ptProblem ? `NOT RUN: ${ptProblem}` : "one Python process, @batch, max_batch_size 1"}; tensorbind: one worker (instances: 1), max_batch_size 1`,
);
pr(
  `- ${PAIRS} pair(s) per row, A B order (tensorbind first); ratio = tensorbind / PyTriton throughput, per pair, and its median`,
);
pr();
pr(
  "| size | conc | proto | tensorbind req/s | PyTriton req/s | ratio per pair | median ratio | tensorbind p50 / p99 µs | PyTriton p50 / p99 µs | tensorbind MB/s in+out |",
);
pr("|---|---|---|---|---|---|---|---|---|---|");
const keys = [...new Set(results.map((r) => `${r.elements}|${r.conc}|${r.proto}`))];
const summary = {};
for (const k of keys) {
  const rs = results.filter((r) => `${r.elements}|${r.conc}|${r.proto}` === k);
  const [el, conc, proto] = k.split("|");
  const ratios = rs.map((r) => (r.pt ? r.tb.rps / r.pt.rps : Number.NaN));
  const tbR = median(rs.map((r) => r.tb.rps));
  summary[k] = { tbR, ratio: median(ratios) };
  pr(
    `| ${human(Number(el))} | ${conc} | ${proto} | ${rs.map((r) => fmt(r.tb.rps, 1)).join(", ")} | ${rs.map((r) => fmt(r.pt?.rps ?? Number.NaN, 1)).join(", ")} | ${ratios.map((x) => fmt(x, 2)).join(", ")} | **${fmt(median(ratios), 2)}** | ${fmt(median(rs.map((r) => r.tb.p50)))} / ${fmt(median(rs.map((r) => r.tb.p99)))} | ${fmt(median(rs.map((r) => r.pt?.p50 ?? Number.NaN)))} / ${fmt(median(rs.map((r) => r.pt?.p99 ?? Number.NaN)))} | ${fmt((tbR * Number(el) * 8) / 1e6, 1)} |`,
  );
}
pr();
pr(`### Physical limit, ${human(big / 4)}: loopback TCP echo (echo.mjs, same pinning) and memcpy`);
pr();
pr("| conc | echo req/s (per pair) | echo MB/s in+out | tensorbind HTTP / echo | tensorbind gRPC / echo |");
pr("|---|---|---|---|---|");
for (const conc of CONCS) {
  const es = echo.filter((e) => e.conc === conc);
  const er = median(es.map((e) => e.rps));
  const f = (proto) => summary[`${big / 4}|${conc}|${proto}`]?.tbR / er;
  pr(
    `| ${conc} | ${es.map((e) => fmt(e.rps, 1)).join(", ")} | ${fmt((er * big * 2) / 1e6)} | ${fmt(f("http") * 100)}% | ${fmt(f("grpc") * 100)}% |`,
  );
}
pr();
pr(`memcpy (Buffer.copy of ${human(big / 4)}, one core): ${fmt(memcpyGBs, 1)} GB/s`);
pr();
pr("### Start-up to ready (spawn → GET /v2/models/identity/ready answers 200; servers pinned to CPU 0)");
pr();
pr("| server | runs (ms) | median ms |");
pr("|---|---|---|");
pr(
  `| tensorbind (node + one Python worker, numpy) | ${startup.tensorbind.map((x) => fmt(x)).join(", ")} | ${fmt(median(startup.tensorbind))} |`,
);
pr(
  `| PyTriton (python + tritonserver + python backend stub) | ${startup.pytriton.map((x) => fmt(x)).join(", ") || "n/a"} | ${fmt(median(startup.pytriton))} |`,
);
pr(`| PyTriton / tensorbind | | **${fmt(median(startup.pytriton) / median(startup.tensorbind), 1)}×** |`);
process.stdout.write(`${o.join("\n")}\n`);
