#!/usr/bin/env node
// bench/json-identity/codec.mjs: the JSON codec of one P13 request in isolation (262 144 FP32
// values, 1 MiB), old ways against the current ones, alternating, in one process:
//   format — TypedArray#join of the widened doubles (before), the JavaScript fallback
//            (shortest float32 text), the native formatter (the addon);
//   decode — JSON.parse of the whole body and the checked copy (the general path) against the
//            native scan of `data` (the path large bodies take when the addon is present).
//
//   node bench/json-identity/codec.mjs [--reps 7] [--random] [--elements 262144]   (needs npm run build and build:native)
import { parseArgs } from "node:util";
import { REPO, requireFiles } from "../lib/common.mjs";

const { values: opt } = parseArgs({
  options: {
    reps: { type: "string", default: "7" },
    random: { type: "boolean", default: false },
    elements: { type: "string", default: "262144" },
  },
});
requireFiles([["dist/ (npm run build)", "dist/cli/main.js"]]);
const { Tensor } = await import(`${REPO}/dist/core/tensor.js`);
const json = await import(`${REPO}/dist/frontends/http/json-data.js`);
const codec = await import(`${REPO}/dist/frontends/http/infer-codec.js`);

const N = Number(opt.elements);
const values = opt.random
  ? Float32Array.from({ length: N }, () => (Math.random() - 0.5) * 1000)
  : Float32Array.from({ length: N }, (_, i) => (i % 1000) * 0.25 - 100.5); // run.mjs's values
const t = Tensor.fromTyped("FP32", [1, N], values);
const body = Buffer.from(
  JSON.stringify({ inputs: [{ name: "INPUT0", datatype: "FP32", shape: [1, N], data: Array.from(values) }] }),
);

function time(fn) {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];

const cases = {
  "format: join of widened doubles (before)": () => Buffer.from(`[${values.join(",")}]`),
  "format: JavaScript fallback (shortest float32)": () => Buffer.from(json.tensorToJsonData(t)),
  "format: native (addon)": () => json.tensorToJsonBytes(t),
  "decode: JSON.parse + checked copy (general path)": () =>
    codec.decodeInferRequest(body, {
      model: "m",
      version: undefined,
      headerLength: undefined,
      jsonScanMinBytes: Infinity,
    }),
  "decode: native scan of data (addon)": () =>
    codec.decodeInferRequest(body, {
      model: "m",
      version: undefined,
      headerLength: undefined,
      jsonScanMinBytes: 0,
    }),
};
const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
for (let r = 0; r < Number(opt.reps); r++)
  for (const [k, fn] of Object.entries(cases)) times[k].push(time(fn));
console.log(
  `| step (${N} FP32${opt.random ? ", random" : ""}, body ${(body.length / 2 ** 20).toFixed(2)} MiB) | median ms | min ms |`,
);
console.log("|---|---:|---:|");
for (const [k, ts] of Object.entries(times))
  console.log(`| ${k} | ${median(ts).toFixed(1)} | ${Math.min(...ts).toFixed(1)} |`);
