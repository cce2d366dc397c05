#!/usr/bin/env node
// Soak: a long mixed load (JS and Python models; HTTP JSON, HTTP binary and gRPC; a bad request
// now and then) with a Python worker SIGKILLed periodically, sampling the server's RSS, open file
// descriptors and tensorbind's /dev/shm bytes, to show they stay flat.
//
//   node bench/soak/run.mjs [--requests 1000000] [--concurrency 8] [--kill-every-s 20]
//
// Needs `npm run build` and `npm run build:native`. Prints a JSON report on stdout; the numbers
// in docs/RELIABILITY.md come from it. Failed requests are expected only while a killed worker
// restarts (its in-flight requests) and for the deliberately bad requests.
import { readdirSync, readFileSync, statSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { credentials, loadPackageDefinition } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { log, machineLine, REPO, requireFiles, sleep, workDir } from "../lib/common.mjs";
import { startServer, tensorbindServe } from "../lib/procs.mjs";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "1000000" },
    concurrency: { type: "string", default: "8" },
    "kill-every-s": { type: "string", default: "20" },
    "sample-every-s": { type: "string", default: "10" },
  },
});
const TOTAL = Number(values.requests);
const CONCURRENCY = Number(values.concurrency);
const KILL_MS = Number(values["kill-every-s"]) * 1000;
const SAMPLE_MS = Number(values["sample-every-s"]) * 1000;

requireFiles([
  ["dist/ (npm run build)", "dist/cli/main.js"],
  ["the shared-memory addon (npm run build:native)", "native/shm/build/Release"],
]);

const dir = workDir("tb-soak-");
const readyFile = join(dir, "ready.json");
const python = join(REPO, ".venv/bin/python");
const server = await startServer({
  argv: tensorbindServe({
    models: join(REPO, "bench/soak/models.ts"),
    readyFile,
    logLevel: "error",
    extra: ["--allow-metrics", "false"],
  }),
  readyFile,
  env: { ...process.env, TENSORBIND_PYTHON: python },
  timeoutMs: 60_000,
});
const base = new URL(server.info.http);
log(`server ${server.pid} at ${server.info.http}, gRPC ${server.info.grpc}`);

// --- what is sampled -------------------------------------------------------------------------
const children = (pid) => {
  const out = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid) out.push(Number(name));
    } catch {}
  }
  return out;
};
const rssKiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
const fds = (pid) => readdirSync(`/proc/${pid}/fd`).length;
/** The server's own segments: their names start with tb-<server pid>- (other servers may run). */
function shmBytes(prefix = `tb-${server.pid}-`) {
  let n = 0;
  let count = 0;
  for (const name of readdirSync("/dev/shm")) {
    if (!name.startsWith(prefix)) continue;
    try {
      n += statSync(join("/dev/shm", name)).size;
      count++;
    } catch {}
  }
  return { bytes: n, segments: count };
}
const samples = [];
const sample = (done) => {
  const workers = children(server.pid).filter((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, "utf8").includes("tensorbind.worker");
    } catch {
      return false;
    }
  });
  const s = {
    requests: done,
    serverRssMiB: +(rssKiB(server.pid) / 1024).toFixed(1),
    serverFds: fds(server.pid),
    workerRssMiB: +(workers.reduce((a, p) => a + rssKiB(p), 0) / 1024).toFixed(1),
    workers: workers.length,
    ...(() => {
      const m = shmBytes();
      return { shmMiB: +(m.bytes / 2 ** 20).toFixed(2), shmSegments: m.segments };
    })(),
  };
  samples.push(s);
  log(JSON.stringify(s));
  return workers;
};

// --- the load --------------------------------------------------------------------------------
const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
const values16 = Array.from({ length: 16 }, (_, i) => i * 0.5);
const jsonBody = Buffer.from(
  JSON.stringify({ inputs: [{ name: "x", shape: [16], datatype: "FP32", data: values16 }] }),
);
const binHead = Buffer.from(
  JSON.stringify({
    inputs: [{ name: "x", shape: [16], datatype: "FP32", parameters: { binary_data_size: 64 } }],
    outputs: [{ name: "y", parameters: { binary_data: true } }],
  }),
);
const binBody = Buffer.concat([binHead, Buffer.from(new Float32Array(values16).buffer)]);

const post = (path, body, headers = {}) =>
  new Promise((resolve) => {
    const req = http.request(
      { agent, host: base.hostname, port: base.port, method: "POST", path, headers },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode));
        res.on("error", () => resolve(0));
      },
    );
    req.on("error", () => resolve(0));
    req.end(body);
  });

const pkg = loadPackageDefinition(
  loadSync(["grpc_service.proto"], {
    keepCase: true,
    longs: String,
    includeDirs: [join(REPO, "src/frontends/grpc/proto")],
  }),
);
const grpc = new pkg.inference.GRPCInferenceService(server.info.grpc, credentials.createInsecure());
const raw = Buffer.from(new Float32Array(values16).buffer);
const grpcInfer = (model) =>
  new Promise((resolve) =>
    grpc.ModelInfer(
      {
        model_name: model,
        inputs: [{ name: "x", datatype: "FP32", shape: [16] }],
        raw_input_contents: [raw],
      },
      (err) => resolve(err ? err.code : 0),
    ),
  );

const kinds = [
  ["http-json js", () => post("/v2/models/js_identity/infer", jsonBody)],
  ["http-json py", () => post("/v2/models/py_identity/infer", jsonBody)],
  [
    "http-binary js",
    () =>
      post("/v2/models/js_identity/infer", binBody, { "Inference-Header-Content-Length": binHead.length }),
  ],
  [
    "http-binary py",
    () =>
      post("/v2/models/py_identity/infer", binBody, { "Inference-Header-Content-Length": binHead.length }),
  ],
  ["grpc js", () => grpcInfer("js_identity")],
  ["grpc py", () => grpcInfer("py_identity")],
];
const tally = {};
let sent = 0;
let failed = 0;
let bad = 0;
const t0 = performance.now();
let nextSample = 0;
let nextKill = KILL_MS;
let kills = 0;

sample(0);
await Promise.all(
  Array.from({ length: CONCURRENCY }, async (_, lane) => {
    while (sent < TOTAL) {
      const i = sent++;
      if (i % 1000 === 999) {
        // a bad request now and then: it must be answered 400 and cost nothing
        const s = await post("/v2/models/js_identity/infer", Buffer.from('{"inputs":[{"name":"x"'));
        if (s !== 400) failed++;
        bad++;
        continue;
      }
      const [name, fn] = kinds[(i + lane) % kinds.length];
      const s = await fn();
      const ok = s === 200 || s === 0;
      tally[name] = (tally[name] ?? 0) + 1;
      if (!ok || (name.startsWith("grpc") && s !== 0) || (!name.startsWith("grpc") && s !== 200)) failed++;
      if (lane === 0) {
        const now = performance.now() - t0;
        if (now >= nextSample) {
          nextSample += SAMPLE_MS;
          sample(sent);
        }
        if (now >= nextKill) {
          nextKill += KILL_MS;
          const workers = children(server.pid).filter((p) => {
            try {
              return readFileSync(`/proc/${p}/cmdline`, "utf8").includes("tensorbind.worker");
            } catch {
              return false;
            }
          });
          if (workers.length > 0) {
            process.kill(workers[kills % workers.length], "SIGKILL");
            kills++;
          }
        }
      }
    }
  }),
);
const seconds = (performance.now() - t0) / 1000;
await sleep(2000); // restarts settle, released slots go back
sample(sent);
grpc.close();
agent.destroy();
await server.stop();
const after = shmBytes();
const first = samples[1] ?? samples[0];
const last = samples[samples.length - 1];
console.log(
  JSON.stringify(
    {
      machine: machineLine(),
      requests: sent,
      badRequests: bad,
      failed,
      seconds: +seconds.toFixed(1),
      perSecond: Math.round(sent / seconds),
      workerKills: kills,
      byKind: tally,
      serverRssMiB: {
        first: first.serverRssMiB,
        last: last.serverRssMiB,
        max: Math.max(...samples.map((s) => s.serverRssMiB)),
      },
      serverFds: {
        first: first.serverFds,
        last: last.serverFds,
        max: Math.max(...samples.map((s) => s.serverFds)),
      },
      shmMiB: { first: first.shmMiB, last: last.shmMiB, max: Math.max(...samples.map((s) => s.shmMiB)) },
      shmAfterStop: after,
      samples,
    },
    null,
    1,
  ),
);
