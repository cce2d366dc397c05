#!/usr/bin/env node
// bench/grpc-reply: what serializing a ModelInfer reply costs, as grpc-js does it (the method's
// serializer, then its framing copy), with protobufjs's encoder vs the in-place reply
// (src/frontends/grpc/reply.ts: each output written once, straight into the frame). Rounds
// alternate the two; per size the median time per reply.
//
//   node bench/grpc-reply/run.mjs [--sizes 540000,4194304,67108864] [--rounds 5]
//
// Needs npm run build.
import { createRequire } from "node:module";
import { parseArgs } from "node:util";
import { fmt, machineLine, median, requireFiles } from "../lib/common.mjs";

requireFiles([["dist/ (npm run build)", "dist/index.js"]]);
const { values: o } = parseArgs({
  options: {
    sizes: { type: "string", default: "540000,4194304,67108864" },
    rounds: { type: "string", default: "5" },
  },
});
const { loadProtos } = await import("../../dist/frontends/grpc/load.js");
const { serializeReply } = await import("../../dist/frontends/grpc/reply.js");
const { BaseServerInterceptingCall } = createRequire(import.meta.url)(
  "@grpc/grpc-js/build/src/server-interceptors.js",
);
const encode = loadProtos().inference.ModelInfer.responseSerialize;
const frame = (serialize, value) =>
  BaseServerInterceptingCall.prototype.serializeMessage.call({ handler: { serialize } }, value);
const ways = {
  protobufjs: (v) => frame(encode, v),
  "in place": (v) => frame((x) => serializeReply(x, encode), v),
};

console.log("## gRPC ModelInfer reply: serializer + grpc-js framing (bench/grpc-reply)\n");
console.log(`- ${machineLine()}`);
console.log(`- \`node bench/grpc-reply/run.mjs --sizes ${o.sizes} --rounds ${o.rounds}\`\n`);
console.log("| output bytes | protobufjs ms / reply | in place ms / reply | protobufjs / in place |");
console.log("|---:|---:|---:|---:|");
for (const size of o.sizes.split(",").map(Number)) {
  const value = {
    model_name: "m",
    model_version: "1",
    id: "",
    parameters: {},
    outputs: [{ name: "OUTPUT0", datatype: "FP32", shape: [1, size / 4], parameters: {} }],
    raw_output_contents: [Buffer.alloc(size, 7)],
  };
  const reps = Math.max(3, Math.round(2e8 / size));
  const times = { protobufjs: [], "in place": [] };
  for (let r = 0; r < Number(o.rounds); r++) {
    for (const [name, fn] of Object.entries(ways)) {
      fn(value); // warm
      const t = performance.now();
      for (let i = 0; i < reps; i++) fn(value);
      times[name].push((performance.now() - t) / reps);
    }
  }
  const a = median(times.protobufjs);
  const b = median(times["in place"]);
  console.log(`| ${size} | ${fmt(a, 3)} | ${fmt(b, 3)} | ${fmt(a / b, 2)} |`);
}
