#!/usr/bin/env node
// bench/python-vs-pytriton: the same Python identity function (identity.py: numpy FP32
// INPUT0 [1, N] -> OUTPUT0) served by tensorbind (models.ts + model.py) and by PyTriton
// (pytriton_server.py; PyPI nvidia-pytriton, which bundles tritonserver), driven by the same
// perf_analyzer command: 4 KiB / 1 MiB / 64 MiB, concurrency 1 and 8, HTTP and gRPC, side by
// side A B A B; ratio tensorbind / PyTriton per pair and its median. Also start-up to ready
// of both, and a bare loopback TCP echo of 64 MiB (echo.mjs) as the physical limit.
// Targets P1, P2, P5 in /work/shared/design/performance.md.
//
//   node bench/python-vs-pytriton/run.mjs            full run (~15 min on the 2-core machine)
//   node bench/python-vs-pytriton/run.mjs --smoke    1 pair, short windows, 4 KiB + 1 MiB only
//
// Needs: npm run build, npm run build:native, .venv (scripts/setup-python.sh: numpy, pyzmq,
// pyarrow, perf_analyzer). Creates .venv-pytriton (pip install nvidia-pytriton) on first use.
// Servers run on CPU 0, clients on CPU 1 (taskset), when there are >= 2 CPUs.
// Markdown report on stdout; progress on stderr.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, "../..");
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

const log = (...m) => process.stderr.write(`[bench] ${m.join(" ")}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (!s.length) return Number.NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : "n/a");
const human = (el) => {
  const b = el * 4;
  return b >= 1 << 20 ? `${b / (1 << 20)} MiB` : `${b / 1024} KiB`;
};

const pinOk = !opt["no-pin"] && cpus().length >= 2 && spawnSync("taskset", ["-V"]).status === 0;
const pin = (cpu, argv) => (pinOk ? ["taskset", "-c", cpu, ...argv] : argv);
const SERVER_CPU = "0";
const CLIENT_CPU = "1";

const PA = process.env.PERF_ANALYZER ?? join(REPO, ".venv/bin/perf_analyzer");
const TB_PY = process.env.TENSORBIND_PYTHON ?? join(REPO, ".venv/bin/python");
for (const [what, p] of [
  ["perf_analyzer (scripts/setup-python.sh)", PA],
  ["tensorbind's python (scripts/setup-python.sh)", TB_PY],
  ["dist/ (npm run build)", join(REPO, "dist/cli/main.js")],
  ["native addon (npm run build:native)", join(REPO, "native/build/Release/tensorbind_shm.node")],
]) {
  if (!existsSync(p)) {
    log(`missing ${what}: ${p}`);
    process.exit(2);
  }
}

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

const work = mkdtempSync(join(tmpdir(), "tb-pyvs-"));
process.on("exit", () => rmSync(work, { recursive: true, force: true }));

function freePort() {
  return new Promise((res) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });
}

async function httpStatus(url) {
  try {
    const r = await fetch(url);
    await r.arrayBuffer();
    return r.status;
  } catch {
    return 0;
  }
}

// ------------------------------------------------------------------ servers
let serial = 0;
async function startServer(kind, timeoutMs = 120_000) {
  const [http, grpc, metrics] = [await freePort(), await freePort(), await freePort()];
  let argv;
  let env = process.env;
  if (kind === "tensorbind") {
    argv = [
      "node",
      join(REPO, "bin/tensorbind.js"),
      "serve",
      join(HERE, "models.ts"),
      "--http-port",
      String(http),
      "--grpc-port",
      String(grpc),
      "--metrics-port",
      String(metrics),
      // 64 MiB of tensor plus the request header exceeds the 64 MiB default body limit
      "--max-body-bytes",
      String(256 << 20),
      "--ready-file",
      join(work, `tb-${serial++}.json`),
    ];
    env = { ...process.env, TENSORBIND_PYTHON: TB_PY };
  } else {
    argv = [PT_PY, join(HERE, "pytriton_server.py"), String(http), String(grpc), String(metrics)];
    env = ptEnv;
  }
  argv = pin(SERVER_CPU, argv);
  const t0 = performance.now();
  const child = spawn(argv[0], argv.slice(1), {
    cwd: REPO,
    env,
    stdio: ["ignore", "ignore", "pipe"],
    detached: true,
  });
  let stderr = "";
  child.stderr.on("data", (c) => {
    stderr = (stderr + c).slice(-6000);
  });
  let exited = null;
  child.on("exit", (code, sig) => {
    exited = { code, sig };
  });
  // "ready" = the model answers ready: PyTriton's tritonserver reports /v2/health/ready
  // before PyTriton has loaded the model (explicit model control), so health alone would flatter it
  const readyUrl = `http://127.0.0.1:${http}/v2/models/identity/ready`;
  for (;;) {
    if ((await httpStatus(readyUrl)) === 200) {
      const startupMs = performance.now() - t0;
      return { kind, child, http, grpc, startupMs, exited: () => exited, stderr: () => stderr };
    }
    if (exited) throw new Error(`${kind} exited (${exited.code ?? exited.sig}) before ready:\n${stderr}`);
    if (performance.now() - t0 > timeoutMs) {
      killGroup(child, "SIGKILL");
      throw new Error(`${kind} not ready within ${timeoutMs} ms:\n${stderr}`);
    }
    await sleep(5);
  }
}
function killGroup(child, sig) {
  try {
    process.kill(-child.pid, sig); // its own process group (detached): tritonserver + stubs too
  } catch {
    child.kill(sig);
  }
}
async function stopServer(s) {
  if (s.exited()) return;
  const done = new Promise((r) => s.child.once("exit", r));
  killGroup(s.child, "SIGTERM");
  const t = setTimeout(() => killGroup(s.child, "SIGKILL"), 20_000);
  await done;
  clearTimeout(t);
  await sleep(300);
  try {
    process.kill(-s.child.pid, "SIGKILL"); // leftovers of the group
  } catch {}
}

// ------------------------------------------------------------------ clients
function runChild(argv, timeoutMs) {
  return new Promise((res) => {
    const child = spawn(argv[0], argv.slice(1), { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (c) => {
      out += c;
    });
    child.stderr.on("data", (c) => {
      out += c;
    });
    const t = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(t);
      res({ code, out });
    });
  });
}

function paArgv(s, proto, elements, conc) {
  return [
    PA,
    "-m",
    "identity",
    "-u",
    `127.0.0.1:${proto === "http" ? s.http : s.grpc}`,
    "-i",
    proto,
    "-b",
    "1",
    "--shape",
    `INPUT0:${elements}`,
    "--input-data",
    "zero",
    "--concurrency-range",
    `${conc}:${conc}`,
    // 64 MiB: count windows (a few requests each) rather than time windows, which can close
    // with no request completed on a slow machine ("No valid requests recorded")
    ...(elements >= 1 << 24
      ? ["--measurement-mode", "count_windows", "--measurement-request-count", String(Math.max(2, conc))]
      : ["--measurement-interval", String(windowMs(elements))]),
    "-s",
    "100",
    "--max-trials",
    "5",
  ];
}
async function perfAnalyzer(s, proto, elements, conc) {
  const argv = paArgv(s, proto, elements, conc);
  const { code, out } = await runChild(pin(CLIENT_CPU, argv), 180_000);
  const num = (re) => {
    const m = re.exec(out);
    return m ? Number(m[1]) : Number.NaN;
  };
  const rps = num(/Throughput:\s*([0-9.]+)\s*infer\/sec/);
  if (code !== 0 || !Number.isFinite(rps)) {
    log(
      `perf_analyzer failed (exit ${code}) on ${s.kind} ${proto} ${elements} c${conc}:\n${out.slice(-1200)}`,
    );
    return { rps: Number.NaN, p50: Number.NaN, p99: Number.NaN };
  }
  return { rps, p50: num(/p50 latency:\s*([0-9]+)\s*usec/), p99: num(/p99 latency:\s*([0-9]+)\s*usec/) };
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
      const s = await startServer(kind);
      startup[kind].push(s.startupMs);
      log(`startup ${kind}: ${fmt(s.startupMs)} ms`);
      await stopServer(s);
    } catch (e) {
      log(String(e.message).slice(0, 3000));
      if (kind === "pytriton") ptProblem = `start failed: ${String(e.message).split("\n")[0]}`;
    }
  }
}

const tb = await startServer("tensorbind");
const pt = ptProblem
  ? null
  : await startServer("pytriton").catch((e) => {
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
  await stopServer(tb);
  if (pt) await stopServer(pt);
}

// physical limits for the largest size: loopback TCP echo and memcpy
const big = Math.max(...SIZES) * 4;
{
  const ready = join(work, "echo.json");
  const srv = spawn(
    ...(([a, ...r]) => [a, r])(
      pin(SERVER_CPU, ["node", join(HERE, "echo.mjs"), "server", "--ready-file", ready]),
    ),
    {
      stdio: "ignore",
    },
  );
  while (!existsSync(ready)) await sleep(5);
  await sleep(20);
  const { port } = JSON.parse(readFileSync(ready, "utf8"));
  for (const conc of CONCS) {
    for (let p = 0; p < PAIRS; p++) {
      const { out } = await runChild(
        pin(CLIENT_CPU, [
          "node",
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
        60_000,
      );
      try {
        echo.push({ conc, ...JSON.parse(out.trim().split("\n").pop()) });
      } catch {
        log(`echo client failed: ${out.slice(-500)}`);
      }
    }
  }
  srv.kill("SIGTERM");
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
const paVer = spawnSync(PA, ["--version"], { encoding: "utf8" });
const ptVer = ptProblem
  ? "n/a"
  : spawnSync(PT_PY, ["-c", "import importlib.metadata as m;print(m.version('nvidia-pytriton'))"], {
      encoding: "utf8",
    }).stdout.trim();
pr(`## Python identity: tensorbind vs PyTriton${smoke ? " (smoke)" : ""}`);
pr();
pr(
  `- date: ${started.toISOString()}; host: ${cpus().length} × ${cpus()[0]?.model ?? "?"}; node ${process.version}`,
);
pr(
  `- load average at start ${load0.map((x) => x.toFixed(2)).join(" ")}, at end ${load1.map((x) => x.toFixed(2)).join(" ")}`,
);
pr(`- pinning: ${pinOk ? `servers on CPU ${SERVER_CPU}, clients on CPU ${CLIENT_CPU} (taskset)` : "none"}`);
pr(
  `- client: ${`${paVer.stdout}${paVer.stderr}`.trim().split("\n")[0]}, \`${paArgv({ http: "PORT", grpc: "PORT" }, "http", "N", "C").slice(1).join(" ").replace(PA, "perf_analyzer")}\` (64 MiB: --measurement-mode count_windows --measurement-request-count max(2, C) instead of time windows), -i http|grpc, binary tensors`,
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
