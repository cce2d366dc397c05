// Child process for bench/metrics-overhead: serves a JS identity model (identity_fp32) with
// observability either off or on, and writes {http, metrics?, pid} to the ready file.
//   node serve.mjs off|on|log READY_FILE
//   off: statistics only (always recorded: the statistics extension), no metrics port, no dashboard
//   on:  metrics port + dashboard + GPU/CPU sampling (the defaults)
//   log: "on" plus a log line per request (--log-requests), written to /dev/null
import { writeFileSync } from "node:fs";

const [mode, readyFile] = process.argv.slice(2);
const { bind, serve, tensor, Registry } = await import("../../dist/index.js");
const { createLogger, silentLogger } = await import("../../dist/core/logger.js");
const registry = new Registry();
bind(
  {
    name: "identity_fp32",
    maxBatchSize: 8,
    inputs: { INPUT0: tensor("FP32", [-1]) },
    outputs: { OUTPUT0: tensor("FP32", [-1]) },
    fn: ({ INPUT0 }) => ({ OUTPUT0: INPUT0 }),
  },
  registry,
);
const on = mode === "on" || mode === "log";
const server = await serve({
  http: 0,
  grpc: false,
  metrics: on ? 0 : false,
  dashboard: on,
  logRequests: mode === "log",
  registry,
  // pino to stderr; the bench points stderr at /dev/null for "log"
  logger: mode === "log" ? createLogger("info") : silentLogger,
});
writeFileSync(readyFile, JSON.stringify({ ...server.urls, pid: process.pid }));
const stop = () => server.close().then(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
