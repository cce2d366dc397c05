import type { ExecutionResult } from "./backend.js";

/**
 * How a backend says "these outputs view memory I want back": a release function attached to
 * its ExecutionResult, which the engine moves to the InferResponse for the frontend to call
 * once the response is written. A WeakMap keeps ExecutionResult a plain record of tensors.
 */
const releases = new WeakMap<ExecutionResult, () => void>();

export function attachRelease(result: ExecutionResult, release: () => void): void {
  releases.set(result, release);
}

/** The release function of a result, once: later calls get undefined. */
export function takeRelease(result: ExecutionResult): (() => void) | undefined {
  const release = releases.get(result);
  releases.delete(result);
  return release;
}
