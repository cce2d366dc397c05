import type { TensorbindError } from "./errors.js";
import type { FailureReason } from "./statistics.js";

/**
 * Triton's failure reason for an error: the scheduler refusing or timing out a request is
 * REJECTED, a client going away is CANCELED, the model's own failure (it threw, crashed, or
 * returned bad outputs) is BACKEND, anything else (bad input) is OTHER.
 */
export function failureReason(err: TensorbindError): FailureReason {
  switch (err.code) {
    case "TB_ERR_UNAVAILABLE":
    case "TB_ERR_SHM_EXHAUSTED":
    case "TB_ERR_DEADLINE_EXCEEDED":
      return "REJECTED";
    case "TB_ERR_CANCELLED":
      return "CANCELED";
    case "TB_ERR_INTERNAL":
      return "BACKEND";
    default:
      return "OTHER";
  }
}
