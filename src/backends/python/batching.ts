import type { ExecutionRequest, ExecutionResult } from "../../core/backend.js";
import type { Datatype } from "../../core/datatypes.js";
import { CancelledError } from "../../core/errors.js";
import type { SharedPlacement } from "../../core/shared-placement.js";
import type { ExternalTensor, RegionSpan } from "./protocol.js";

/** One input of a call: its bytes may come in parts (one per request of a batch), laid end to end. */
export interface ColumnInput {
  readonly name: string;
  readonly datatype: Datatype;
  readonly shape: readonly number[];
  readonly parts: readonly Uint8Array[];
}

/**
 * How a batch of requests becomes calls of the Python function. A function of requests
 * (`@tensorbind.batch` and friends) gets the batch as ONE call: the requests' inputs laid end to
 * end (the parts are gather-written into one arena slot: the one copy) plus each request's rows
 * (`splits`), from which the worker makes the request list as views. A plain function is called
 * once per request, so each request is its own call (all still in one message to the worker).
 */
export interface PlannedCall {
  /** Indices into the batch. */
  readonly requests: readonly number[];
  readonly columns: readonly ColumnInput[];
  readonly requested: readonly string[];
  /** Rows of each request when they were concatenated; undefined for a single request. */
  readonly splits: readonly number[] | undefined;
  /** Each request's parameters, for a function of requests (undefined when none has any). */
  readonly parameters?: readonly Record<string, string | number | boolean>[] | undefined;
  /** Inputs the worker maps from the client's shared memory (not in `columns`). */
  readonly external?: readonly ExternalTensor[];
  /** Outputs the worker writes into the client's shared memory. */
  readonly outputRegions?: Readonly<Record<string, RegionSpan>>;
}

export function planCalls(
  batch: readonly ExecutionRequest[],
  maxBatchSize: number,
  takesRequests = false,
  cudaGpu?: number,
): { calls: PlannedCall[]; results: (ExecutionResult | Error | undefined)[] } {
  const results: (ExecutionResult | Error | undefined)[] = batch.map((r) =>
    r.signal?.aborted ? new CancelledError() : undefined,
  );
  const live = batch.map((_, i) => i).filter((i) => results[i] === undefined);
  if (takesRequests && maxBatchSize > 0 && live.length > 1 && concatenable(live.map((i) => batch[i]!))) {
    const reqs = live.map((i) => batch[i]!);
    const first = reqs[0]!;
    const splits = reqs.map((r) => Object.values(r.inputs)[0]?.shape[0] ?? 0);
    const columns = Object.entries(first.inputs).map(([name, t]) => ({
      name,
      datatype: t.datatype,
      shape: [reqs.reduce((n, r) => n + r.inputs[name]!.shape[0]!, 0), ...t.shape.slice(1)],
      parts: reqs.map((r) => r.inputs[name]!.bytes),
    }));
    const requested = [...new Set(reqs.flatMap((r) => r.requestedOutputs))];
    return {
      calls: [{ requests: live, columns, requested, splits, parameters: parametersOf(reqs) }],
      results,
    };
  }
  const calls = live.map((i): PlannedCall => {
    const r = batch[i]!;
    const columns: ColumnInput[] = [];
    const external: ExternalTensor[] = [];
    for (const [name, t] of Object.entries(r.inputs)) {
      const p = t.placement;
      // A client's region is mapped by the worker itself: its bytes are never copied.
      if (p?.kind === "system" && t.datatype !== "BYTES") {
        external.push({
          name,
          datatype: t.datatype,
          shape: t.shape,
          key: p.key,
          offset: p.offset,
          byteSize: p.byteSize,
        });
      } else if (opensCudaRegion(p, t.datatype, cudaGpu)) {
        // A torch worker on the region's GPU opens the client's handle: no host round trip.
        external.push({
          name,
          datatype: t.datatype,
          shape: t.shape,
          key: p.ipcKey,
          offset: p.offset,
          byteSize: p.byteSize,
          cuda: { handle: p.ipcHandle },
        });
      } else columns.push({ name, datatype: t.datatype, shape: t.shape, parts: [t.bytes] });
    }
    const parameters = takesRequests ? parametersOf([r]) : undefined;
    const regions = takesRequests ? undefined : outputRegionsOf(r);
    return {
      requests: [i],
      columns,
      requested: r.requestedOutputs,
      splits: undefined,
      parameters,
      ...(external.length > 0 && { external }),
      ...(regions !== undefined && { outputRegions: regions }),
    };
  });
  return { calls, results };
}

/** Types torch has (BF16 has no `__cuda_array_interface__` type string; BYTES is parsed on the host). */
const CUDA_WORKER_TYPES = new Set([
  "BOOL",
  "UINT8",
  "INT8",
  "INT16",
  "INT32",
  "INT64",
  "UINT16",
  "UINT32",
  "UINT64",
  "FP16",
  "FP32",
  "FP64",
]);

/**
 * planCalls for several batches sent together: each batch planned on its own (a batch is never
 * merged with another: the model is called once per batch, as if they had come one by one), the
 * calls' request indices counting through the batches laid end to end.
 */
export function planBatches(
  batches: readonly (readonly ExecutionRequest[])[],
  maxBatchSize: number,
  takesRequests = false,
  cudaGpu?: number,
): { calls: PlannedCall[]; results: (ExecutionResult | Error | undefined)[] } {
  if (batches.length === 1) return planCalls(batches[0]!, maxBatchSize, takesRequests, cudaGpu);
  const calls: PlannedCall[] = [];
  const results: (ExecutionResult | Error | undefined)[] = [];
  for (const batch of batches) {
    const offset = results.length;
    const plan = planCalls(batch, maxBatchSize, takesRequests, cudaGpu);
    for (const call of plan.calls) calls.push({ ...call, requests: call.requests.map((i) => i + offset) });
    results.push(...plan.results);
  }
  return { calls, results };
}

/** The results of batches laid end to end, batch by batch. */
export function splitByBatch<T>(all: T[], batches: readonly (readonly unknown[])[]): T[][] {
  if (batches.length === 1) return [all];
  let start = 0;
  return batches.map((b) => {
    const part = all.slice(start, start + b.length);
    start += b.length;
    return part;
  });
}

function opensCudaRegion(
  p: SharedPlacement | undefined,
  datatype: Datatype,
  cudaGpu: number | undefined,
): p is Extract<SharedPlacement, { kind: "cuda" }> {
  return (
    p?.kind === "cuda" && cudaGpu !== undefined && p.deviceId === cudaGpu && CUDA_WORKER_TYPES.has(datatype)
  );
}

function outputRegionsOf(r: ExecutionRequest): Record<string, RegionSpan> | undefined {
  if (r.sharedOutputs === undefined) return undefined;
  const out: Record<string, RegionSpan> = {};
  for (const [name, s] of Object.entries(r.sharedOutputs)) {
    const p = s.placement;
    if (p.kind === "system") out[name] = { key: p.key, offset: p.offset, byteSize: p.byteSize };
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Request parameters as JSON (64-bit integers beyond 2^53 as strings); undefined when there are none. */
function parametersOf(
  reqs: readonly ExecutionRequest[],
): Record<string, string | number | boolean>[] | undefined {
  if (reqs.every((r) => Object.keys(r.parameters).length === 0)) return undefined;
  return reqs.map((r) =>
    Object.fromEntries(
      Object.entries(r.parameters).map(([k, v]) => [
        k,
        typeof v === "bigint" ? (Number.isSafeInteger(Number(v)) ? Number(v) : v.toString()) : v,
      ]),
    ),
  );
}

function concatenable(reqs: readonly ExecutionRequest[]): boolean {
  const first = reqs[0]!;
  const names = Object.keys(first.inputs);
  if (names.length === 0) return false;
  const dim0 = (r: ExecutionRequest) => Object.values(r.inputs)[0]?.shape[0];
  return reqs.every((r) => {
    if (Object.keys(r.inputs).length !== names.length) return false;
    return names.every((name) => {
      const a = first.inputs[name];
      const b = r.inputs[name];
      return (
        a !== undefined &&
        b !== undefined &&
        a.datatype === b.datatype &&
        b.shape.length >= 1 &&
        b.shape.length === a.shape.length &&
        b.shape[0] === dim0(r) &&
        b.shape.every((d, k) => k === 0 || d === a.shape[k])
      );
    });
  });
}
