// The traccc service: cells in, fitted tracks out, one event per request, served as `traccc`.
// Build and serve in one go: `npm run example:traccc`. The tensors come from the addon's
// declaration (addon/traccc_model.cc); the environment picks where it runs:
//   TRACCC_DEVICE     cpu (default) | cuda | cuda:N
//   TRACCC_INSTANCES  model instances (default 1 on the CPU, 2 on a GPU); each runs one event at a time
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

bind({
  name: "traccc",
  fn: native(addon, "reconstruct", gpu === undefined ? { instances } : { instances, gpu }),
});
