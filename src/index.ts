// Public API: named re-exports only; each value carries a TSDoc @example where it is declared.
// Internals (the status table, gRPC codes, error helpers) stay out: test/unit/public-api.test.ts.

export {
  type BatchContext,
  type BatchedFunction,
  type BatchRequest,
  batch,
  batchAware,
  constantPadder,
  type DefaultValue,
  type FirstValueInputs,
  type FirstValueOptions,
  fillOptionals,
  firstValue,
  groupByKeys,
  groupByValues,
  type PadFunction,
  padBatch,
  type RequestsFunction,
  type Result,
  type Scalar,
  sample,
} from "./backends/js/decorators/index.js";
export type {
  CallContext,
  CheckedOutputs,
  InputsOf,
  ModelFunction,
  Outputs,
  OutputsOf,
  OutputValue,
} from "./backends/js/function-types.js";
export { type NativeInstanceOptions, type NativeOptions, native } from "./backends/native/index.js";
export { type PipelineStepOptions, pipeline } from "./backends/pipeline/index.js";
export { type PythonOptions, python } from "./backends/python/index.js";
export { type BoundModel, bind, defaultRegistry, unbind } from "./bind.js";
export type { ServeOptions } from "./config.js";
export type { Backend, BackendFactory } from "./core/backend.js";
export {
  DATATYPES,
  type DataOf,
  type Datatype,
  type NumericArray,
  type NumericArrayOf,
} from "./core/datatypes.js";
export {
  CancelledError,
  ConfigError,
  DeadlineExceededError,
  type ErrorCode,
  InternalError,
  InvalidArgumentError,
  isTensorbindError,
  MethodNotAllowedError,
  NotFoundError,
  ResourceExhaustedError,
  type StatusMapping,
  TensorbindError,
  UnavailableError,
  UnimplementedError,
} from "./core/errors.js";
export type { InferRequest, InferResponse, Parameters, ParameterValue } from "./core/infer.js";
export type { BatchingOptions, QueueOptions, QueuePolicyOptions } from "./core/scheduling.js";
export type { ModelSpec, TensorSpec, TensorSpecOptions, TensorSpecs } from "./core/spec.js";
export { Tensor, type TensorData } from "./core/tensor.js";
export { tensor } from "./core/tensor-factory.js";
export { VERSION } from "./core/version.js";
export type { BindOptions } from "./model/model.js";
export { Registry } from "./model/registry.js";
export { Server, type ServerUrls, serve } from "./server.js";
