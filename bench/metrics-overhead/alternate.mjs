#!/usr/bin/env node
// A closed-loop HTTP load generator that alternates between two servers in short phases
// (A B, B A, A B, …), so that the shared machine's slow swings in load fall on both alike.
// Prints one JSON line: {a: [req/s per phase], b: [...], a_count, b_count, a_errors, b_errors,
// a_lat: {p50, p99}, b_lat: {...}} (latencies in µs, of the answers 200).
//
//   node alternate.mjs --a URL --b URL [--phase-ms 500] [--cycles 40] [--concurrency 8]
//                      [--format binary|json] [--elements 16] [--model identity_fp32]
import { parseArgs } from "node:util";
import { closedLoop, identityRequest, inferTarget, percentile } from "../lib/kserve-load.mjs";

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
const concurrency = Number(o.concurrency);
const request = identityRequest(
  o.format,
  Float32Array.from({ length: Number(o.elements) }, (_, i) => i),
);
const side = (url) => ({ ...inferTarget(url, o.model, request, concurrency), rps: [], lat: [], errors: 0 });

async function phase(t, ms, record) {
  const r = await closedLoop(t.once, { ms, concurrency, record });
  if (!record) return;
  t.rps.push(r.lat.length / r.seconds);
  for (const us of r.lat) t.lat.push(us); // (a spread of a long phase would overflow the stack)
  t.errors += r.errors;
}

const A = side(o.a);
const B = side(o.b);
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
const lat = (t) => ({ p50: Math.round(percentile(t.lat, 50)), p99: Math.round(percentile(t.lat, 99)) });
process.stdout.write(
  `${JSON.stringify({
    a: A.rps,
    b: B.rps,
    a_count: A.lat.length,
    b_count: B.lat.length,
    a_errors: A.errors,
    b_errors: B.errors,
    a_lat: lat(A),
    b_lat: lat(B),
  })}\n`,
);
A.close();
B.close();
