import { ResourceExhaustedError } from "./errors.js";

/**
 * Caps on what one inference request may hold, the same for every frontend. They bound the
 * work a request makes before any model sees it: a 51 MiB JSON body with 10^6 inputs used to
 * hold the event loop for seconds, health checks included.
 */
export interface RequestLimits {
  readonly maxInputs: number;
  readonly maxOutputs: number;
  /** Parameters of the request, and of each input and output, each counted on its own. */
  readonly maxParameters: number;
}

export const DEFAULT_REQUEST_LIMITS: RequestLimits = Object.freeze({
  maxInputs: 1024,
  maxOutputs: 1024,
  maxParameters: 256,
});

const FLAGS = { inputs: "--max-inputs", outputs: "--max-outputs", parameters: "--max-parameters" } as const;

/** Throws RESOURCE_EXHAUSTED (413) when `count` is over `max`. */
export function checkCount(kind: keyof typeof FLAGS, count: number, max: number, where = "request"): void {
  if (count > max)
    throw new ResourceExhaustedError(`${where} has ${count} ${kind}; the limit is ${max} (${FLAGS[kind]})`);
}
