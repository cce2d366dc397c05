import { checkCount, type RequestLimits } from "../../core/request-limits.js";

/**
 * Checks the counts of a parsed JSON infer header against the limits before anything is
 * decoded from it: inputs, outputs, and the parameters of the request and of each tensor.
 */
export function checkJsonCounts(h: Record<string, unknown>, limits: RequestLimits): void {
  const inputs = Array.isArray(h.inputs) ? (h.inputs as unknown[]) : [];
  const outputs = Array.isArray(h.outputs) ? (h.outputs as unknown[]) : [];
  checkCount("inputs", inputs.length, limits.maxInputs);
  checkCount("outputs", outputs.length, limits.maxOutputs);
  checkCount("parameters", keys(h.parameters), limits.maxParameters);
  for (const t of [...inputs, ...outputs]) {
    const p = typeof t === "object" && t !== null ? (t as { parameters?: unknown }).parameters : undefined;
    checkCount("parameters", keys(p), limits.maxParameters, "a tensor");
  }
}

function keys(v: unknown): number {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return 0;
  let n = 0;
  for (const _ in v) n++;
  return n;
}
