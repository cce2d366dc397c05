#!/usr/bin/env node
// A closed-loop HTTP load generator that alternates between two servers in short phases
// (A B, B A, A B, …), so that the shared machine's slow swings in load fall on both alike.
// Prints one JSON line: {a: [req/s per phase], b: [...], a_lat: {p50, p99}, b_lat: {...}}.
//
//   node alternate.mjs --a URL --b URL [--phase-ms 500] [--cycles 40] [--concurrency 8]
//                      [--format binary|json] [--elements 16] [--model identity_fp32]
import http from "node:http";
import { parseArgs } from "node:util";

const { values: o } = parseArgs({
  options: {
    a: { type: "string" },
    b: { type: "string" },
    "phase-ms": { type: "string", default: "500" },
    cycles: { type: "string", default: "40" },
    concurrency: { type: "string", default: "8" },
    format: { type: "string", default: "binary" },
    elements: { type: "string", default: "16" },
    model: { type: "string", default: "identity_fp32" },
  },
});
const n = Number(o.elements);
const concurrency = Number(o.concurrency);
const values = Float32Array.from({ length: n }, (_, i) => i);
let body;
const headers = {};
if (o.format === "json") {
  body = Buffer.from(
    JSON.stringify({
      inputs: [{ name: "INPUT0", shape: [1, n], datatype: "FP32", data: Array.from(values) }],
    }),
  );
  headers["Content-Type"] = "application/json";
} else {
  const head = Buffer.from(
    JSON.stringify({
      inputs: [{ name: "INPUT0", shape: [1, n], datatype: "FP32", parameters: { binary_data_size: n * 4 } }],
      outputs: [{ name: "OUTPUT0", parameters: { binary_data: true } }],
    }),
  );
  body = Buffer.concat([head, Buffer.from(values.buffer)]);
  headers["Inference-Header-Content-Length"] = String(head.length);
  headers["Content-Type"] = "application/octet-stream";
}
headers["Content-Length"] = String(body.length);

function target(base) {
  const url = new URL(base);
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const opts = {
    agent,
    host: url.hostname,
    port: url.port,
    method: "POST",
    path: `/v2/models/${o.model}/infer`,
    headers,
  };
  const once = () =>
    new Promise((resolve) => {
      const t0 = process.hrtime.bigint();
      const req = http.request(opts, (res) => {
        res.resume();
        res.on("end", () =>
          resolve(res.statusCode === 200 ? Number(process.hrtime.bigint() - t0) / 1e3 : -1),
        );
      });
      req.on("error", () => resolve(-1));
      req.end(body);
    });
  return { agent, once, rps: [], lat: [], errors: 0, count: 0 };
}

async function phase(t, ms, record) {
  const end = performance.now() + ms;
  let count = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const us = await t.once();
        if (!record) continue;
        if (us < 0) t.errors++;
        else {
          count++;
          t.lat.push(us);
        }
      }
    }),
  );
  if (record) {
    t.rps.push(count / ((performance.now() - t0) / 1000));
    t.count += count;
  }
}

const A = target(o.a);
const B = target(o.b);
const ms = Number(o["phase-ms"]);
// Warm both up (JIT, connection pools) before anything is recorded.
for (let i = 0; i < 4; i++) {
  await phase(A, 500, false);
  await phase(B, 500, false);
}
for (let c = 0; c < Number(o.cycles); c++) {
  const [first, second] = c % 2 === 0 ? [A, B] : [B, A];
  await phase(first, ms, true);
  await phase(second, ms, true);
}
const pct = (xs, p) => {
  const s = xs.sort((x, y) => x - y);
  return s.length ? Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]) : 0;
};
process.stdout.write(
  `${JSON.stringify({
    a: A.rps,
    b: B.rps,
    a_count: A.count,
    b_count: B.count,
    a_errors: A.errors,
    b_errors: B.errors,
    a_lat: { p50: pct(A.lat, 50), p99: pct(A.lat, 99) },
    b_lat: { p50: pct(B.lat, 50), p99: pct(B.lat, 99) },
  })}\n`,
);
A.agent.destroy();
B.agent.destroy();
