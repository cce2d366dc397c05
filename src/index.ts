// Public API: re-exports only.
export { bind, unbind, defaultRegistry, type BoundModel } from "./bind.js";
export { serve, Server, type ServerUrls } from "./server.js";
export type { ServeOptions } from "./config.js";
export { tensor } from "./tensor/index.js";
export { Tensor, type TensorData } from "./tensor/tensor.js";
export { DATATYPES, type Datatype, type NumericArray } from "./tensor/datatypes.js";
export type { BindOptions } from "./model/model.js";
export type { TensorSpec, TensorSpecOptions, ModelSpec } from "./model/spec.js";
export { Registry } from "./model/registry.js";
export type { ModelFunction, CallContext, Outputs, OutputValue } from "./backends/js.js";
export type { Backend, BackendFactory } from "./backends/backend.js";
export * from "./protocol/errors.js";
export type { InferRequest, InferResponse, Parameters, ParameterValue } from "./protocol/infer.js";
export { VERSION } from "./version.js";
