import type { TensorbindError } from "./errors.js";
import type { InferRequest } from "./infer.js";
import type { ExecutionTimings, FailureReason } from "./statistics.js";

/** One finished inference request, as the core saw it: where its time went, or why it failed. */
export type RequestEvent =
  | {
      readonly ok: true;
      readonly request: InferRequest;
      readonly model: string;
      readonly version: string;
      readonly totalNs: number;
      readonly queueNs: number;
      readonly batchSize: number;
      readonly timings: ExecutionTimings;
    }
  | {
      readonly ok: false;
      readonly request: InferRequest;
      readonly model: string;
      readonly version: string;
      readonly totalNs: number;
      readonly error: TensorbindError;
      readonly reason: FailureReason;
    };

/** Called once per finished request, on the request path: must be cheap and must not throw. */
export type RequestListener = (event: RequestEvent) => void;
