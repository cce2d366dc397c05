import type { ExecutionRequest, StreamedResponse } from "../core/backend.js";
import { InvalidArgumentError, type TensorbindError, toTensorbindError } from "../core/errors.js";
import type { InferRequest, InferResponse, StreamResponse } from "../core/infer.js";
import { takeRelease } from "../core/release.js";
import type { ModelSpec } from "../core/spec.js";
import type { ResponseTiming } from "../core/statistics.js";
import type { ScheduledResult } from "../scheduler/scheduler.js";
import type { Model } from "./model.js";
import { validateOutputs, validateRequest } from "./validate.js";

const now = () => process.hrtime.bigint();

/** Triton's `model_transaction_policy { decoupled: true }`, as the model's config says. */
export function isDecoupledSpec(spec: ModelSpec): boolean {
  const policy = spec.modelConfig?.model_transaction_policy as { decoupled?: unknown } | undefined;
  return policy?.decoupled === true;
}

/**
 * One request to a decoupled model: the model answers it with any number of responses, the last
 * marked final (an error one when its execution failed), each handed to `onResponse` as it comes.
 * Resolves once the final response is out, with the scheduler's result (queue and compute times)
 * or the error that ended the request; throws, before any response, when the request is invalid.
 */
export async function inferDecoupled(
  model: Model,
  request: InferRequest,
  onResponse: (response: StreamResponse) => void,
  submit: (execution: ExecutionRequest, batchSize: number) => Promise<ScheduledResult>,
): Promise<({ scheduled: ScheduledResult } | { error: TensorbindError }) & { responses: ResponseTiming[] }> {
  const spec = model.spec;
  const { execution, batchSize } = validateRequest(spec, request);
  if (request.outputs?.some((o) => "shared_memory_region" in o.parameters))
    throw new InvalidArgumentError(
      `model '${model.name}' is decoupled: its outputs cannot go to a shared-memory region`,
    );
  let final = false;
  let finished!: () => void;
  const done = new Promise<void>((resolve) => {
    finished = resolve;
  });
  // Each response's compute time runs from the previous one (the first: from the submission,
  // less the queue time once the execution says it) to its arrival; its output time is ours.
  const responses: ResponseTiming[] = [];
  let last = now();
  const deliver = (r: StreamedResponse): void => {
    if (final) return;
    final = r.final;
    const arrived = now();
    const response = toStreamResponse(model, request, execution.requestedOutputs, batchSize, r);
    onResponse(response);
    const sent = now();
    const outcome =
      response.error !== undefined ? "fail" : response.response === undefined ? "empty" : "success";
    responses.push({ inferNs: Number(arrived - last), outputNs: Number(sent - arrived), outcome });
    last = sent;
    if (final) finished();
  };
  try {
    const scheduled = await submit({ ...execution, respond: deliver }, batchSize);
    await done;
    const first = responses[0];
    if (first !== undefined)
      responses[0] = { ...first, inferNs: Math.max(0, first.inferNs - scheduled.queueNs) };
    return { scheduled, responses };
  } catch (err) {
    const error = toTensorbindError(err);
    const ran = responses.length > 0;
    deliver({ error, final: true }); // it never ran (queue, deadline), or its execution failed
    return { error, responses: ran ? responses : [] };
  }
}

function toStreamResponse(
  model: Model,
  request: InferRequest,
  requested: readonly string[],
  batchSize: number,
  r: StreamedResponse,
): StreamResponse {
  if (r.error !== undefined) return { error: toTensorbindError(r.error), final: r.final };
  if (r.result === undefined) return { final: r.final };
  const release = takeRelease(r.result);
  try {
    const present = requested.filter((n) => r.result![n] !== undefined);
    const outputs = validateOutputs(model.spec, r.result, present, batchSize);
    const response: InferResponse = {
      ...(request.id !== undefined ? { id: request.id } : {}),
      model: model.name,
      version: model.version,
      parameters: {},
      outputs,
      ...(release !== undefined && { release }),
    };
    return { response, final: r.final };
  } catch (err) {
    release?.();
    return { error: toTensorbindError(err), final: r.final };
  }
}
