// The traccc service: cells in, fitted tracks out, one event per request, served as `traccc`.
// Build and serve in one go: `npm run example:traccc`. The tensors come from the addon's
// declaration (addon/traccc_model.cc); the environment picks where it runs:
//   TRACCC_DEVICE     cpu (default) | cuda | cuda:N
//   TRACCC_INSTANCES  model instances (default 1 on the CPU, 2 on a GPU); each runs one event at a time
//   TRACCC_GPUS       with TRACCC_DEVICE=cuda: spread over GPUs 0..N-1, TRACCC_INSTANCES on each
//                     (Triton's instance_group { count, gpus: [0, …, N-1] })
//   TRACCC_OPTIONS    reconstruction cuts, "key=value,..." (README.md lists them)
import { fileURLToPath } from "node:url";
import { bind, native } from "tensorbind";

const addon = fileURLToPath(new URL("./build/Release/traccc.node", import.meta.url));
const device = process.env.TRACCC_DEVICE ?? "cpu";
const match = /^cuda(?::(\d+))?$/.exec(device);
if (device !== "cpu" && match === null)
  throw new Error(`TRACCC_DEVICE must be cpu, cuda or cuda:N, not '${device}'`);
const gpu = match ? Number(match[1] ?? 0) : undefined;
const instances = Number(process.env.TRACCC_INSTANCES ?? (gpu === undefined ? 1 : 2));
const gpuCount = Number(process.env.TRACCC_GPUS ?? 1);
if (gpuCount > 1 && device !== "cuda") throw new Error("TRACCC_GPUS needs TRACCC_DEVICE=cuda");
const gpus = Array.from({ length: gpuCount }, (_, i) => i);

bind({
  name: "traccc",
  fn: native(
    addon,
    "reconstruct",
    gpu === undefined
      ? { instances }
      : gpuCount > 1
        ? { instances: { count: instances, gpus } }
        : { instances, gpu },
  ),
});
