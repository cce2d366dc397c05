// Child process for bench/startup: binds one identity model (JS, or Python with BENCH_MODEL=python)
// and serves it, reporting timings and memory.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const t0 = performance.now();
const { bind, serve, tensor, python, Registry } = await import("../../dist/index.js");
const { silentLogger } = await import("../../dist/core/logger.js");
const imported = performance.now();
const registry = new Registry();
const pythonModel = process.env.BENCH_MODEL === "python";
bind(
  pythonModel
    ? {
        name: "identity",
        fn: python(fileURLToPath(new URL("../python-vs-pytriton/model.py", import.meta.url)), "infer", {
          interpreter:
            process.env.TENSORBIND_PYTHON ??
            fileURLToPath(new URL("../../.venv/bin/python", import.meta.url)),
        }),
      }
    : {
        name: "identity",
        inputs: { X: tensor("FP32", [-1]) },
        outputs: { Y: tensor("FP32", [-1]) },
        fn: ({ X }) => ({ Y: X }),
      },
  registry,
);
const s0 = performance.now();
const server = await serve({
  http: 0,
  grpc: process.env.BENCH_GRPC === "0" ? false : 0,
  metrics: false,
  registry,
  logger: silentLogger,
});
const ready = performance.now();
const res = await fetch(`${server.urls.http}/v2/models/identity/ready`);

/** RSS, proportional share and private anonymous memory of the model's first worker (MB). */
function workerMemory() {
  const pid = registry.list()[0]?.backend.loaded?.pids?.[0];
  if (pid === undefined) return {};
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(rollup)?.[1] ?? Number.NaN) / 1024;
  return { workerRssMb: kb("Rss"), workerPssMb: kb("Pss"), workerAnonMb: kb("Anonymous") };
}

process.stdout.write(
  JSON.stringify({
    importMs: imported - t0,
    serveMs: ready - s0,
    sinceProcessStartMs: ready,
    status: res.status,
    rssMb: process.memoryUsage().rss / 2 ** 20,
    ...(pythonModel ? workerMemory() : {}),
  }),
);
await server.close();
