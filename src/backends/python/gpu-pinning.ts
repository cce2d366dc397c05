import { ConfigError } from "../../core/errors.js";

/**
 * The environment that pins a worker process to one GPU: CUDA_VISIBLE_DEVICES names only that
 * GPU, so CUDA, torch, CuPy and friends in the worker see it as device 0. `gpu` counts in the
 * server's own view: when the server itself runs with CUDA_VISIBLE_DEVICES (a container, a
 * scheduler's allocation), GPU 1 is the second entry of that list, not the machine's GPU 1.
 * TENSORBIND_GPU keeps the server's index for the model's own logs.
 */
export function gpuPinning(gpu: number, serverVisible: string | undefined): Record<string, string> {
  if (gpu < 0) return {};
  let device = String(gpu);
  if (serverVisible !== undefined && serverVisible.trim() !== "") {
    const visible = serverVisible.split(",").map((d) => d.trim());
    const entry = visible[gpu];
    if (entry === undefined || entry === "" || entry === "-1")
      throw new ConfigError(
        `GPU ${gpu} is not visible to this server (CUDA_VISIBLE_DEVICES=${serverVisible}): it sees ${visible.length} GPU(s)`,
      );
    device = entry;
  }
  return { CUDA_VISIBLE_DEVICES: device, TENSORBIND_GPU: String(gpu) };
}
