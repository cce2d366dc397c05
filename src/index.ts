// Public API: re-exports only.

export type { Backend, BackendFactory } from "./backends/backend.js";
export type { CallContext, ModelFunction, Outputs, OutputValue } from "./backends/js.js";
export { type NativeInstanceOptions, type NativeOptions, native } from "./backends/native/index.js";
export { type PythonOptions, python } from "./backends/python/index.js";
export { type BoundModel, bind, defaultRegistry, unbind } from "./bind.js";
export type { ServeOptions } from "./config.js";
export * from "./decorators/index.js";
export type { BindOptions } from "./model/model.js";
export { Registry } from "./model/registry.js";
export type { ModelSpec, TensorSpec, TensorSpecOptions } from "./model/spec.js";
export * from "./protocol/errors.js";
export type { InferRequest, InferResponse, Parameters, ParameterValue } from "./protocol/infer.js";
export type { BatchingOptions, QueueOptions, QueuePolicyOptions } from "./scheduler/policy.js";
export { Server, type ServerUrls, serve } from "./server.js";
export { DATATYPES, type Datatype, type NumericArray } from "./tensor/datatypes.js";
export { tensor } from "./tensor/index.js";
export { Tensor, type TensorData } from "./tensor/tensor.js";
export { VERSION } from "./version.js";
