#!/usr/bin/env node
// A tiny closed-loop HTTP load generator for bench/http-identity: `concurrency` keep-alive
// connections, each sending the same KServe v2 identity request back to back for a fixed
// time. Prints one JSON line: {requests, errors, seconds, rps, p50_us, p99_us, bytes}.
//
// Usage: node loadgen.mjs --url http://127.0.0.1:8000 [--model identity_fp32]
//          [--format json|binary] [--elements 1024] [--concurrency 8]
//          [--duration-ms 2000] [--warmup-ms 300]
import { parseArgs } from "node:util";
import { closedLoop, identityRequest, inferTarget, percentile } from "../lib/kserve-load.mjs";

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
const n = Number(a.elements);
const concurrency = Number(a.concurrency);
const values = Float32Array.from({ length: n }, (_, i) => Math.fround(Math.sin(i) * 1000));
const target = inferTarget(a.url, a.model, identityRequest(a.format, values), concurrency);

await closedLoop(target.once, { ms: Number(a["warmup-ms"]), concurrency, record: false });
const { lat, errors, bytes, seconds } = await closedLoop(target.once, {
  ms: Number(a["duration-ms"]),
  concurrency,
});
process.stdout.write(
  `${JSON.stringify({
    requests: lat.length,
    errors,
    seconds,
    rps: lat.length / seconds,
    p50_us: Math.round(percentile(lat, 50)),
    p99_us: Math.round(percentile(lat, 99)),
    bytes,
  })}\n`,
);
target.close();
