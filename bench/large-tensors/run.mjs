#!/usr/bin/env node
// bench/large-tensors: 64 MiB FP32 through tensorbind over HTTP (binary tensors) against a bare
// loopback TCP echo of the same bytes (../python-vs-pytriton/echo.mjs server), with the same
// client (client.mjs: C connections, one request in flight each, warm-up outside the window).
// Models (models.ts): native identity_copy (P10: >= 0.7 of the echo), native identity (forwards
// its input: no copy out), Python numpy identity (P2: >= 0.5 of the echo). Side by side, pairs
// of echo / model runs; ratio per pair and its median.
//
//   node bench/large-tensors/run.mjs [--pairs 3] [--bytes 67108864] [--concurrency 1] [--duration-ms 4000]
//
// Needs npm run build, npm run build:native, .venv (numpy, pyzmq); builds the native identity addon
// (bench/native-identity/addon) when missing. Servers on CPU 0, clients on CPU 1 when possible.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { fmt, log, machineLine, median, REPO, requireFiles, workDir } from "../lib/common.mjs";
import { CLIENT_CPU, pinning, runChild, SERVER_CPU, startServer, tensorbindServe } from "../lib/procs.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const { values: o } = parseArgs({
  options: {
    pairs: { type: "string", default: "3" },
    bytes: { type: "string", default: String(64 << 20) },
    concurrency: { type: "string", default: "1" },
    "duration-ms": { type: "string", default: "4000" },
    models: { type: "string", default: "native_identity_copy,native_identity,python_identity" },
    "no-pytriton": { type: "boolean", default: false },
  },
});
const PAIRS = Number(o.pairs);
const BYTES = Number(o.bytes);
const MODELS = o.models.split(",");
const { on: pinned, pin } = pinning();

requireFiles([
  ["dist/ (npm run build)", "dist/index.js"],
  ["native addon (npm run build:native)", "native/shm/build/Release/tensorbind_shm.node"],
]);
if (!existsSync(join(REPO, "bench/native-identity/build/Release/identity.node"))) {
  const cmake = join(REPO, "node_modules/cmake-js/bin/cmake-js");
  const args = ["compile", "-d", "bench/native-identity/addon", "-O", "bench/native-identity/build"];
  const r = spawnSync(process.execPath, [cmake, ...args], { cwd: REPO, stdio: "inherit" });
  if (r.status !== 0) process.exit(2);
}

const work = workDir("tb-large-");
const echoReady = join(work, "echo.json");
const echoSrv = await startServer({
  argv: pin(SERVER_CPU, [
    process.execPath,
    join(REPO, "bench/python-vs-pytriton/echo.mjs"),
    "server",
    "--ready-file",
    echoReady,
  ]),
  readyFile: echoReady,
  name: "echo server",
});
// The same echo, store-and-forward: a whole request in, then the whole answer out, as a
// request/response server must on one connection (the duplex echo overlaps the two).
const storeReady = join(work, "store.json");
const storeSrv = await startServer({
  argv: pin(SERVER_CPU, [
    process.execPath,
    join(REPO, "bench/python-vs-pytriton/echo.mjs"),
    "server",
    "--ready-file",
    storeReady,
    "--store-bytes",
    String(BYTES),
  ]),
  readyFile: storeReady,
  name: "store-and-forward echo server",
});
const tbReady = join(work, "tb.json");
const python = process.env.TENSORBIND_PYTHON ?? join(REPO, ".venv/bin/python");
const tb = await startServer({
  argv: pin(
    SERVER_CPU,
    tensorbindServe({
      models: join(HERE, "models.ts"),
      readyFile: tbReady,
      grpc: 0,
      metrics: 0,
      extra: ["--max-body-bytes", String(BYTES + (1 << 20))],
    }),
  ),
  env: { ...process.env, TENSORBIND_PYTHON: python },
  readyFile: tbReady,
  timeoutMs: 60_000,
  name: "tensorbind",
});

// PyTriton (the P2 reference) with the same client, when bench/python-vs-pytriton's
// .venv-pytriton exists (its run.mjs creates it: pip install nvidia-pytriton).
const PT_PY = join(REPO, ".venv-pytriton/bin/python");
let pytriton;
if (!o["no-pytriton"] && existsSync(PT_PY)) {
  const libdir = spawnSync(
    PT_PY,
    ["-c", "import sysconfig;print(sysconfig.get_config_var('LIBDIR') or '')"],
    {
      encoding: "utf8",
    },
  ).stdout.trim();
  const port = 18000 + (process.pid % 1000);
  pytriton = await startServer({
    argv: pin(SERVER_CPU, [
      PT_PY,
      join(REPO, "bench/python-vs-pytriton/pytriton_server.py"),
      String(port),
      String(port + 1),
      String(port + 2),
    ]),
    env: { ...process.env, LD_LIBRARY_PATH: [libdir, process.env.LD_LIBRARY_PATH].filter(Boolean).join(":") },
    readyUrl: `http://127.0.0.1:${port}/v2/models/identity/ready`,
    timeoutMs: 120_000,
    detached: true,
    killAfterMs: 20_000,
    name: "pytriton",
  });
  pytriton.url = `http://127.0.0.1:${port}`;
  MODELS.push("pytriton_identity");
} else log("PyTriton not measured (no .venv-pytriton, or --no-pytriton)");
const targetOf = (m) =>
  m === "pytriton_identity" ? { url: pytriton.url, model: "identity" } : { url: tb.info.http, model: m };

const client = (args) =>
  runChild(
    pin(CLIENT_CPU, [
      process.execPath,
      ...args,
      "--bytes",
      String(BYTES),
      "--concurrency",
      o.concurrency,
      "--duration-ms",
      o["duration-ms"],
    ]),
    {
      timeoutMs: 120_000,
    },
  ).then(({ out }) => JSON.parse(out.trim().split("\n").pop()));

const rows = { echo: [], store: [] };
for (const m of MODELS) rows[m] = [];
try {
  for (let p = 0; p < PAIRS; p++) {
    const e = await client([
      join(REPO, "bench/python-vs-pytriton/echo.mjs"),
      "client",
      "--port",
      String(echoSrv.info.port),
    ]);
    rows.echo.push(e);
    log(`pair ${p + 1}: echo ${fmt(e.rps, 2)}/s`);
    const st = await client([
      join(REPO, "bench/python-vs-pytriton/echo.mjs"),
      "client",
      "--port",
      String(storeSrv.info.port),
    ]);
    rows.store.push(st);
    log(`pair ${p + 1}: store-and-forward echo ${fmt(st.rps, 2)}/s (${fmt(st.rps / e.rps, 2)} of the echo)`);
    for (const m of MODELS) {
      const t = targetOf(m);
      const r = await client([join(HERE, "client.mjs"), "--url", t.url, "--model", t.model]);
      if (r.failed > 0) log(`${m}: ${r.failed} failed requests`);
      rows[m].push(r);
      log(`pair ${p + 1}: ${m} ${fmt(r.rps, 2)}/s (${fmt(r.rps / e.rps, 2)} of the echo)`);
    }
  }
} finally {
  await pytriton?.stop();
  await tb.stop();
  await echoSrv.stop();
  await storeSrv.stop();
}

const mib = BYTES / (1 << 20);
const pr = (s = "") => process.stdout.write(`${s}\n`);
pr(`## ${mib} MiB FP32 over HTTP vs a bare loopback TCP echo (${new Date().toISOString().slice(0, 10)})\n`);
pr(`- ${machineLine()}; ${pinned ? "servers on CPU 0, clients on CPU 1 (taskset)" : "not pinned"}`);
pr(
  `- \`node bench/large-tensors/run.mjs --pairs ${PAIRS} --bytes ${BYTES} --concurrency ${o.concurrency} --duration-ms ${o["duration-ms"]}\``,
);
pr(`- ${PAIRS} pair(s), each an echo run then each model (same client shape, ${o["duration-ms"]} ms each)\n`);
pr("| target | req/s per pair | p50 ms | MB/s in+out | / echo per pair | median / echo |");
pr("|---|---|---|---|---|---|");
const mbps = (rps) => (rps * 2 * BYTES) / 1e6;
pr(
  `| bare TCP echo | ${rows.echo.map((r) => fmt(r.rps, 2)).join(", ")} | ${fmt(median(rows.echo.map((r) => r.p50)) / 1000, 0)} | ${fmt(mbps(median(rows.echo.map((r) => r.rps))))} | | |`,
);
for (const m of ["store", ...MODELS]) {
  const ratios = rows[m].map((r, i) => r.rps / rows.echo[i].rps);
  pr(
    `| ${m === "store" ? "store-and-forward echo" : m} | ${rows[m].map((r) => fmt(r.rps, 2)).join(", ")} | ${fmt(median(rows[m].map((r) => r.p50)) / 1000, 0)} | ${fmt(mbps(median(rows[m].map((r) => r.rps))))} | ${ratios.map((x) => fmt(x, 2)).join(", ")} | **${fmt(median(ratios), 2)}** |`,
  );
}
pr(
  `\nPer model / store-and-forward echo (median of pairs): ${MODELS.map((m) => `${m} ${fmt(median(rows[m].map((r, i) => r.rps / rows.store[i].rps)), 2)}`).join(", ")}`,
);
if (pytriton) {
  const ratios = rows.python_identity.map((r, i) => r.rps / rows.pytriton_identity[i].rps);
  pr(
    `\ntensorbind python_identity / PyTriton per pair: ${ratios.map((x) => fmt(x, 2)).join(", ")}; median **${fmt(median(ratios), 2)}×**`,
  );
}
