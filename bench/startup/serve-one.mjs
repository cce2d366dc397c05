// Child process for bench/startup: binds one JS identity model and serves it, reporting timings.
const t0 = performance.now();
const { bind, serve, tensor, Registry } = await import("../../dist/index.js");
const { silentLogger } = await import("../../dist/logger.js");
const imported = performance.now();
const registry = new Registry();
bind(
  {
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
const res = await fetch(`${server.urls.http}/v2/health/ready`);
process.stdout.write(
  JSON.stringify({
    importMs: imported - t0,
    serveMs: ready - s0,
    sinceProcessStartMs: ready,
    status: res.status,
    rssMb: process.memoryUsage().rss / 2 ** 20,
  }),
);
await server.close();
