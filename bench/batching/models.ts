// The models of bench/batching/run.mjs: the same PyTorch MLP and the same JS function, each
// bound twice, with dynamic batching on and off. BENCH_DEVICE=cuda:0 runs the MLP on a GPU.
import { fileURLToPath } from "node:url";
import { batch, bind, python, tensor } from "tensorbind";

const MODEL = fileURLToPath(new URL("./model.py", import.meta.url));
const device = process.env.BENCH_DEVICE ?? "cpu";
const delayMs = Number(process.env.BENCH_DELAY_MS ?? "1");
const ON = { batching: { maxQueueDelayMs: delayMs } } as const;

for (const [name, on] of [
  ["mlp_batching", true],
  ["mlp_single", false],
] as const) {
  bind({
    name,
    fn: python(MODEL, "infer", { framework: "torch", device, instances: 1 }),
    ...(on ? ON : {}),
  });
}

// A JS dense layer + ReLU + dense layer, 64 -> 64 -> 16, in plain typed-array loops.
let seed = 42;
const rng = () => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return (seed / 2 ** 31) * 0.2 - 0.1;
};
const W1 = Float32Array.from({ length: 64 * 64 }, rng);
const W2 = Float32Array.from({ length: 64 * 16 }, rng);

function mlp(x: Float32Array, rows: number): Float32Array {
  const h = new Float32Array(64);
  const y = new Float32Array(rows * 16);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < 64; j++) {
      let s = 0;
      for (let i = 0; i < 64; i++) s += x[r * 64 + i]! * W1[i * 64 + j]!;
      h[j] = Math.max(s, 0);
    }
    for (let j = 0; j < 16; j++) {
      let s = 0;
      for (let i = 0; i < 64; i++) s += h[i]! * W2[i * 16 + j]!;
      y[r * 16 + j] = s;
    }
  }
  return y;
}

for (const [name, on] of [
  ["js_batching", true],
  ["js_single", false],
] as const) {
  bind({
    name,
    maxBatchSize: 64,
    inputs: { x: tensor("FP32", [64]) },
    outputs: { y: tensor("FP32", [16]) },
    fn: batch(({ x }) => ({ y: mlp(x!.data as Float32Array, x!.shape[0]!) })),
    ...(on ? ON : {}),
  });
}
