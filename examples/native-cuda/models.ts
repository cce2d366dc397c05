// Serves SAXPY and a sum reduction from addon/ (build and serve: `npm run example:native-cuda`).
// `saxpy` and `sum` run on the GPUs listed in CUDA_EXAMPLE_GPUS (default "0"; "0,0,1" = two
// instances on GPU 0 and one on GPU 1; empty = one CPU instance); `saxpy_cpu` and `sum_cpu`
// always run the C++ versions, the reference for checking the GPU results.
import { fileURLToPath } from "node:url";
import { bind, native } from "tensorbind";

const addon = fileURLToPath(new URL("./build/Release/cuda_ops.node", import.meta.url));
const list = (process.env.CUDA_EXAMPLE_GPUS ?? "0").split(",").filter((s) => s.trim() !== "");
const instances = list.length > 0 ? list.map((g) => ({ gpu: Number(g) })) : 1;

bind({ name: "saxpy", fn: native(addon, "saxpy", { instances }) });
bind({ name: "sum", fn: native(addon, "sum", { instances }) });
bind({ name: "saxpy_cpu", fn: native(addon, "saxpy_cpu") });
bind({ name: "sum_cpu", fn: native(addon, "sum_cpu") });
