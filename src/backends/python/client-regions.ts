import type { ExecutionRequest, ExecutionResult } from "../../core/backend.js";
import { DATATYPES, isDatatype } from "../../core/datatypes.js";
import { InternalError, toTensorbindError } from "../../core/errors.js";
import { Tensor } from "../../core/tensor.js";
import type { InRegionOutput } from "./protocol.js";

/**
 * The Python half of the shared-memory extensions: inputs in a client's region are mapped by
 * the worker itself (batching.ts leaves them out of the Arrow stream), and outputs the worker
 * wrote into the client's region come back as tensors over the server's view of that region.
 */

/** Outputs the worker wrote straight into the client's region: tensors over that memory. */
export function inRegionOutputs(
  request: ExecutionRequest,
  written: Readonly<Record<string, InRegionOutput>>,
  results: (ExecutionResult | Error | undefined)[],
  index: number,
): void {
  const res = results[index];
  if (res === undefined || res instanceof Error) return;
  try {
    for (const [name, o] of Object.entries(written)) {
      const target = request.sharedOutputs?.[name];
      if (target === undefined || !isDatatype(o.datatype))
        throw new InternalError(`the python worker wrote output '${name}' into a region it was not given`);
      const size = (DATATYPES[o.datatype].size || 0) * o.shape.reduce((a, b) => a * b, 1);
      if (size > target.bytes.byteLength)
        throw new InternalError(`the python worker wrote output '${name}' past its region`);
      res[name] = new Tensor(name, o.datatype, o.shape, target.bytes.subarray(0, size));
    }
  } catch (err) {
    results[index] = toTensorbindError(err);
  }
}
