import { setFlagsFromString } from "node:v8";

/**
 * V8 starts a full (mark-compact) garbage collection whenever about 64 MB of new ArrayBuffer
 * memory has appeared since the last one, however small the JavaScript heap. A server taking in
 * large tensors creates that much in a single request — Node hands every socket read to the HTTP
 * parser as a fresh buffer, and each output of a native model is one — so it collected its
 * whole heap once or twice per 64 MiB request: ~30% of its CPU (bench/large-tensors, perf).
 * Counting buffer memory in V8's global heap limit instead collects when the process as a whole
 * has grown (the limit scales with the heap's, and so with the machine's or container's memory).
 * TENSORBIND_EXTERNAL_MEMORY_GC=v8 keeps V8's default.
 */
export function countBuffersInHeapLimit(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.TENSORBIND_EXTERNAL_MEMORY_GC === "v8") return false;
  setFlagsFromString("--external-memory-accounted-in-global-limit");
  return true;
}
