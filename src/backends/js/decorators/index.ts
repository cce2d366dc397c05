// The batching decorators, after PyTriton's (pytriton.decorators): re-exports only.

export {
  type BatchContext,
  type BatchedFunction,
  batchAware,
  type Request as BatchRequest,
  type RequestsFunction,
  type Result,
  type Scalar,
} from "../function-types.js";
export { batch, sample } from "./batch.js";
export { type DefaultValue, fillOptionals } from "./fill-optionals.js";
export { type FirstValueInputs, type FirstValueOptions, firstValue } from "./first-value.js";
export { constantPadder, groupByKeys, groupByValues, type PadFunction } from "./group.js";
export { padBatch } from "./pad-batch.js";
