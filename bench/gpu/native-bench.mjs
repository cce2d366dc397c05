#!/usr/bin/env node
// The Node half of bench/gpu/native.sh (examples/native-cuda on a GPU).
//
//   node bench/gpu/native-bench.mjs direct <addon.node> [--calls N] [--mib N]
//     loads the addon in this process and calls `saxpy` on a GPU instance directly (no server):
//     checks it against `saxpy_cpu` and `sum` against `sum_cpu`, then times calls on a
//     64 MiB tensor. Prints one JSON line.
//   node bench/gpu/native-bench.mjs served <ready.json> [--calls N] [--mib N] [--concurrency N]
//     the same over HTTP (binary tensor extension, keep-alive): checks the served `saxpy`/`sum`
//     against the served `saxpy_cpu`/`sum_cpu`, then times requests. Prints one JSON line.
import { readFileSync } from "node:fs";
import http from "node:http";
import { parseArgs } from "node:util";

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    calls: { type: "string", default: "40" },
    mib: { type: "string", default: "64" },
    concurrency: { type: "string", default: "1" },
    gpu: { type: "string", default: "0" }, // -1: a CPU instance (to try this script without a GPU)
  },
});
const [mode, target] = positionals;
const CALLS = Number(values.calls);
const N = (Number(values.mib) << 20) / 4; // FP32 elements in one tensor

function random(n, seed) {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 32 - 0.5;
  }
  return a;
}
const bytes = (a) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

// Error relative to max(1, |want|): relative for large values, absolute near zero, where a GPU's
// fused multiply-add and a CPU's separate multiply and add round differently (and the two
// reductions add in different orders).
function compare(name, got, want, tol) {
  if (got.length !== want.length) throw new Error(`${name}: ${got.length} values, expected ${want.length}`);
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i]));
    if (err > worst) worst = err;
  }
  if (!(worst <= tol)) throw new Error(`${name}: worst error ${worst} > ${tol}`);
  return worst;
}

const stats = (ms) => {
  const s = [...ms].sort((a, b) => a - b);
  return {
    median_ms: s[Math.floor(s.length / 2)],
    p99_ms: s[Math.min(s.length - 1, Math.floor(s.length * 0.99))],
  };
};

async function direct(addonPath) {
  const m = { exports: {} };
  process.dlopen(m, addonPath);
  const api = m.exports.tensorbind;
  const gpu = Number(values.gpu);
  if (gpu >= 0 && !api.cuda) throw new Error("the addon was built without CUDA");
  const inst = (fn, device) => new api.Instance(fn, 0, device);
  const gpuSaxpy = inst("saxpy", gpu);
  const gpuSum = inst("sum", gpu);
  const cpuSaxpy = inst("saxpy_cpu", -1);
  const cpuSum = inst("sum_cpu", -1);
  await Promise.all([gpuSaxpy, gpuSum, cpuSaxpy, cpuSum].map((i) => i.start()));
  const F = 12; // FP32 code
  const runSaxpy = (i, a, x, y) =>
    i.run(["A", "X", "Y"], [F, F, F], [[1], [x.length], [y.length]], [bytes(a), bytes(x), bytes(y)], ["Z"]);
  const runSum = (i, x) => i.run(["X"], [F], [[x.length]], [bytes(x)], ["SUM"]);
  const checks = [];
  for (const n of [1, 1000, 1 << 20, N]) {
    const a = new Float32Array([1.5]);
    const x = random(n, 1 + n);
    const y = random(n, 2 + n);
    const [g] = await runSaxpy(gpuSaxpy, a, x, y);
    const [c] = await runSaxpy(cpuSaxpy, a, x, y);
    const saxpyErr = compare(`saxpy n=${n}`, new Float32Array(g[3]), new Float32Array(c[3]), 1e-6);
    const [gs] = await runSum(gpuSum, x);
    const [cs] = await runSum(cpuSum, x);
    const sumErr = compare(`sum n=${n}`, new Float64Array(gs[3]), new Float64Array(cs[3]), 1e-8);
    checks.push({ n, saxpy_worst_err: saxpyErr, sum_worst_err: sumErr });
  }
  const a = new Float32Array([2]);
  const x = random(N, 7);
  const y = random(N, 8);
  for (let i = 0; i < 3; i++) await runSaxpy(gpuSaxpy, a, x, y); // warm-up: pools, pinned blocks
  const ms = [];
  const t0 = performance.now();
  for (let i = 0; i < CALLS; i++) {
    const t = performance.now();
    await runSaxpy(gpuSaxpy, a, x, y);
    ms.push(performance.now() - t);
  }
  const seconds = (performance.now() - t0) / 1000;
  // Two instances on the same device, one caller each: the direct counterpart of serving two.
  const second = new api.Instance("saxpy", 1, gpu);
  await second.start();
  for (let i = 0; i < 3; i++) await runSaxpy(second, a, x, y);
  let next = 0;
  const t1 = performance.now();
  await Promise.all(
    [gpuSaxpy, second].map(async (inst) => {
      while (next < CALLS) {
        next++;
        await runSaxpy(inst, a, x, y);
      }
    }),
  );
  const seconds2 = (performance.now() - t1) / 1000;
  await Promise.all([gpuSaxpy, second, gpuSum, cpuSaxpy, cpuSum].map((i) => i.stop()));
  return {
    mode: "direct",
    gpu,
    mib: N / 262144,
    calls: CALLS,
    calls_per_s: CALLS / seconds,
    two_instances_calls_per_s: CALLS / seconds2,
    ...stats(ms),
    checks,
  };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** One binary-extension infer request; resolves with the outputs' bytes by name. */
function infer(base, model, inputs, outputs) {
  const header = Buffer.from(
    JSON.stringify({
      inputs: inputs.map(([name, a]) => ({
        name,
        datatype: "FP32",
        shape: [a.length],
        parameters: { binary_data_size: a.byteLength },
      })),
      outputs: outputs.map((name) => ({ name, parameters: { binary_data: true } })),
    }),
  );
  const url = new URL(`/v2/models/${model}/infer`, base);
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: "POST",
      agent,
      headers: {
        "Content-Type": "application/octet-stream",
        "Inference-Header-Content-Length": header.length,
        "Content-Length": header.length + inputs.reduce((s, [, a]) => s + a.byteLength, 0),
      },
    });
    req.on("error", reject);
    req.on("response", (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        const body = Buffer.concat(chunks);
        if (res.statusCode !== 200)
          return reject(new Error(`HTTP ${res.statusCode}: ${body.subarray(0, 300)}`));
        const hlen = Number(res.headers["inference-header-content-length"]);
        const head = JSON.parse(body.subarray(0, hlen).toString());
        const out = {};
        let off = hlen;
        for (const o of head.outputs) {
          const size = o.parameters.binary_data_size;
          out[o.name] = body.subarray(off, off + size);
          off += size;
        }
        resolve(out);
      });
    });
    req.write(header);
    for (const [, a] of inputs) req.write(bytes(a));
    req.end();
  });
}

const view = (buf, Ctor) => new Ctor(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));

async function served(readyFile) {
  const base = JSON.parse(readFileSync(readyFile, "utf8")).http;
  const checks = [];
  for (const n of [1, 1000, 1 << 20, N]) {
    const a = new Float32Array([1.5]);
    const x = random(n, 1 + n);
    const y = random(n, 2 + n);
    const ins = [
      ["A", a],
      ["X", x],
      ["Y", y],
    ]; // prettier-ignore
    const g = await infer(base, "saxpy", ins, ["Z"]);
    const c = await infer(base, "saxpy_cpu", ins, ["Z"]);
    const saxpyErr = compare(`served saxpy n=${n}`, view(g.Z, Float32Array), view(c.Z, Float32Array), 1e-6);
    const gs = await infer(base, "sum", [["X", x]], ["SUM"]);
    const cs = await infer(base, "sum_cpu", [["X", x]], ["SUM"]);
    const sumErr = compare(`served sum n=${n}`, view(gs.SUM, Float64Array), view(cs.SUM, Float64Array), 1e-8);
    checks.push({ n, saxpy_worst_err: saxpyErr, sum_worst_err: sumErr });
  }
  const a = new Float32Array([2]);
  const x = random(N, 7);
  const y = random(N, 8);
  const ins = [
    ["A", a],
    ["X", x],
    ["Y", y],
  ]; // prettier-ignore
  for (let i = 0; i < 3; i++) await infer(base, "saxpy", ins, ["Z"]);
  const results = [];
  for (const concurrency of String(values.concurrency).split(",").map(Number)) {
    const ms = [];
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < CALLS) {
          next++;
          const t = performance.now();
          await infer(base, "saxpy", ins, ["Z"]);
          ms.push(performance.now() - t);
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    results.push({ concurrency, calls: CALLS, calls_per_s: CALLS / seconds, ...stats(ms) });
  }
  agent.destroy();
  return { mode: "served", mib: N / 262144, results, checks };
}

const result =
  mode === "direct" ? await direct(target) : mode === "served" ? await served(target) : undefined;
if (result === undefined) {
  console.error("usage: native-bench.mjs direct <addon.node> | served <ready.json>");
  process.exit(2);
}
console.log(JSON.stringify(result));
