#!/usr/bin/env node
// A tiny closed-loop HTTP load generator for bench/http-identity: `concurrency` keep-alive
// connections, each sending the same KServe v2 identity request back to back for a fixed
// time. Prints one JSON line: {requests, errors, seconds, rps, p50_us, p99_us, bytes}.
//
// Usage: node loadgen.mjs --url http://127.0.0.1:8000 [--model identity_fp32]
//          [--format json|binary] [--elements 1024] [--concurrency 8]
//          [--duration-ms 2000] [--warmup-ms 300]
import http from "node:http";
import { parseArgs } from "node:util";

const { values: a } = parseArgs({
  options: {
    url: { type: "string" },
    model: { type: "string", default: "identity_fp32" },
    format: { type: "string", default: "json" },
    elements: { type: "string", default: "1024" },
    concurrency: { type: "string", default: "8" },
    "duration-ms": { type: "string", default: "2000" },
    "warmup-ms": { type: "string", default: "300" },
  },
});
const url = new URL(a.url);
const n = Number(a.elements);
const concurrency = Number(a.concurrency);
const values = Float32Array.from({ length: n }, (_, i) => Math.fround(Math.sin(i) * 1000));

let body;
const headers = {};
if (a.format === "json") {
  body = Buffer.from(
    JSON.stringify({
      inputs: [{ name: "INPUT0", shape: [1, n], datatype: "FP32", data: Array.from(values) }],
    }),
  );
  headers["Content-Type"] = "application/json";
} else if (a.format === "binary") {
  const head = Buffer.from(
    JSON.stringify({
      inputs: [{ name: "INPUT0", shape: [1, n], datatype: "FP32", parameters: { binary_data_size: n * 4 } }],
      outputs: [{ name: "OUTPUT0", parameters: { binary_data: true } }],
    }),
  );
  body = Buffer.concat([head, Buffer.from(values.buffer)]);
  headers["Inference-Header-Content-Length"] = String(head.length);
  headers["Content-Type"] = "application/octet-stream";
} else {
  throw new Error("--format must be json or binary");
}
headers["Content-Length"] = String(body.length);

const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
const opts = {
  agent,
  host: url.hostname,
  port: url.port,
  method: "POST",
  path: `/v2/models/${a.model}/infer`,
  headers,
};

function once() {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const req = http.request(opts, (res) => {
      let bytes = 0;
      res.on("data", (c) => {
        bytes += c.length;
      });
      res.on("end", () =>
        resolve({ ok: res.statusCode === 200, us: Number(process.hrtime.bigint() - t0) / 1e3, bytes }),
      );
    });
    req.on("error", () => resolve({ ok: false, us: 0, bytes: 0 }));
    req.end(body);
  });
}

async function phase(ms, record) {
  const end = performance.now() + ms;
  const lat = [];
  let errors = 0;
  let bytes = 0;
  const worker = async () => {
    while (performance.now() < end) {
      const r = await once();
      if (!record) continue;
      if (r.ok) {
        lat.push(r.us);
        bytes += r.bytes;
      } else errors++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { lat, errors, bytes, seconds: (performance.now() - t0) / 1e3 };
}

await phase(Number(a["warmup-ms"]), false);
const { lat, errors, bytes, seconds } = await phase(Number(a["duration-ms"]), true);
lat.sort((x, y) => x - y);
const pct = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))] : 0);
process.stdout.write(
  `${JSON.stringify({
    requests: lat.length,
    errors,
    seconds,
    rps: lat.length / seconds,
    p50_us: Math.round(pct(50)),
    p99_us: Math.round(pct(99)),
    bytes,
  })}\n`,
);
agent.destroy();
