#!/usr/bin/env node
// bench/workers-output: what handing outputs to frontend threads costs the engine's thread.
// Two servers with --workers 2, side by side: one lends large outputs to the frontend thread by
// address (the default), one copies them (TENSORBIND_LEND_OUTPUTS=0, as before). The same client
// (../large-tensors/client.mjs: C keep-alive connections, one request in flight each) sends
// 0.5 MiB FP32 identities; reported per pair: req/s, and the CPU time of the engine's thread (the
// process's main thread, /proc/<pid>/task/<pid>/stat) per request.
//
//   node bench/workers-output/run.mjs [--pairs 3] [--bytes 524288] [--concurrency 16] [--duration-ms 4000]
//
// Needs npm run build, npm run build:native and the bench/native-identity addon (built by
// bench/large-tensors/run.mjs when missing).
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { fmt, log, machineLine, median, REPO, requireFiles, workDir } from "../lib/common.mjs";
import { CLIENT_CPU, pinning, runChild, SERVER_CPU, startServer, tensorbindServe } from "../lib/procs.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const { values: o } = parseArgs({
  options: {
    pairs: { type: "string", default: "3" },
    bytes: { type: "string", default: String(512 << 10) },
    concurrency: { type: "string", default: "16" },
    "duration-ms": { type: "string", default: "4000" },
    workers: { type: "string", default: "2" },
    models: { type: "string", default: "native_identity_copy,js_identity_copy" },
  },
});
const { pin } = pinning();
requireFiles([
  ["dist/ (npm run build)", "dist/index.js"],
  ["native addon (npm run build:native)", "native/shm/build/Release/tensorbind_shm.node"],
  [
    "bench/native-identity addon (bench/large-tensors/run.mjs builds it)",
    "bench/native-identity/build/Release/identity.node",
  ],
]);

const work = workDir("tb-workers-output-");
async function server(name, env) {
  const ready = join(work, `${name}.json`);
  const s = await startServer({
    argv: pin(
      SERVER_CPU,
      tensorbindServe({
        models: join(HERE, "models.ts"),
        readyFile: ready,
        grpc: 0,
        metrics: 0,
        extra: ["--workers", o.workers],
      }),
    ),
    env: { ...process.env, ...env },
    readyFile: ready,
    timeoutMs: 60_000,
    name,
  });
  return s;
}

/** CPU ms of the process's main thread (the engine's). */
function mainThreadMs(pid) {
  const s = readFileSync(`/proc/${pid}/task/${pid}/stat`, "utf8");
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) * 10;
}

const lend = await server("lend", {});
const copy = await server("copy", { TENSORBIND_LEND_OUTPUTS: "0" });
const MODELS = o.models.split(",");
const rows = {};
try {
  for (let p = 0; p < Number(o.pairs); p++) {
    for (const m of MODELS) {
      for (const [name, s] of [
        ["copy", copy],
        ["lend", lend],
      ]) {
        const before = mainThreadMs(s.pid);
        const { out } = await runChild(
          pin(CLIENT_CPU, [
            process.execPath,
            join(REPO, "bench/large-tensors/client.mjs"),
            "--url",
            s.info.http,
            "--model",
            m,
            "--bytes",
            o.bytes,
            "--concurrency",
            o.concurrency,
            "--duration-ms",
            o["duration-ms"],
          ]),
        );
        const r = JSON.parse(out.trim().split("\n").pop());
        if (r.failed > 0) throw new Error(`${name} server: ${r.failed} ${m} requests failed`);
        const requests = r.rps * (Number(o["duration-ms"]) / 1000) + Number(o.concurrency); // + warm-up
        const cpu = (mainThreadMs(s.pid) - before) / requests;
        const key = `${m} ${name}`;
        rows[key] ??= [];
        rows[key].push({ rps: r.rps, cpu, failed: r.failed });
        log(`pair ${p + 1}: ${key} ${fmt(r.rps, 1)} req/s, engine thread ${fmt(cpu * 1000)} µs/request`);
      }
    }
  }
} finally {
  await Promise.all([lend.stop(), copy.stop()]);
}

console.log(`## Outputs to frontend threads: lent vs copied (bench/workers-output)\n`);
console.log(`- ${machineLine()}; servers on CPU ${SERVER_CPU}, client on CPU ${CLIENT_CPU}`);
console.log(
  `- \`node bench/workers-output/run.mjs --pairs ${o.pairs} --bytes ${o.bytes} --concurrency ${o.concurrency} --duration-ms ${o["duration-ms"]} --workers ${o.workers}\`\n`,
);
console.log(
  "| model | outputs | req/s per pair | engine thread µs / request per pair | median req/s | median µs |",
);
console.log("|---|---|---|---|---|---|");
for (const [key, xs] of Object.entries(rows)) {
  const [m, how] = key.split(" ");
  console.log(
    `| ${m} | ${how} | ${xs.map((x) => fmt(x.rps, 1)).join(", ")} | ${xs.map((x) => fmt(x.cpu * 1000)).join(", ")} | ${fmt(median(xs.map((x) => x.rps)), 1)} | ${fmt(median(xs.map((x) => x.cpu * 1000)))} |`,
  );
}
