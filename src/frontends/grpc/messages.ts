/**
 * The shapes of the protobuf messages as @grpc/proto-loader hands them over (see
 * LOADER_OPTIONS in load.ts): snake_case names, 64-bit integers as decimal strings, bytes as
 * Buffers, absent fields filled with defaults. Only the messages our handlers touch are typed.
 */

/** inference.InferParameter; `parameter_choice` names the member that is set, if any. */
export interface InferParameterMsg {
  bool_param?: boolean;
  int64_param?: string;
  string_param?: string;
  double_param?: number;
  uint64_param?: string;
  parameter_choice?: "bool_param" | "int64_param" | "string_param" | "double_param" | "uint64_param";
}

export type ParameterMapMsg = Record<string, InferParameterMsg>;

/** inference.InferTensorContents: one repeated field per family of datatypes. */
export interface InferTensorContentsMsg {
  bool_contents: boolean[];
  int_contents: number[];
  int64_contents: string[];
  uint_contents: number[];
  uint64_contents: string[];
  fp32_contents: number[];
  fp64_contents: number[];
  bytes_contents: Buffer[];
}

export interface InferInputTensorMsg {
  name: string;
  datatype: string;
  shape: string[];
  parameters: ParameterMapMsg;
  contents: InferTensorContentsMsg | null;
}

export interface InferRequestedOutputTensorMsg {
  name: string;
  parameters: ParameterMapMsg;
}

export interface ModelInferRequestMsg {
  model_name: string;
  model_version: string;
  id: string;
  parameters: ParameterMapMsg;
  inputs: InferInputTensorMsg[];
  outputs: InferRequestedOutputTensorMsg[];
  raw_input_contents: Buffer[];
}

/** What we serialize: 64-bit fields may be numbers, bigints as strings, bytes any Uint8Array. */
export interface InferOutputTensorOut {
  name: string;
  datatype: string;
  shape: readonly number[];
  parameters: Record<string, InferParameterOut>;
}

export type InferParameterOut =
  | { bool_param: boolean }
  | { int64_param: number | string }
  | { uint64_param: string }
  | { string_param: string }
  | { double_param: number };

export interface ModelInferResponseOut {
  model_name: string;
  model_version: string;
  id: string;
  parameters: Record<string, InferParameterOut>;
  outputs: InferOutputTensorOut[];
  raw_output_contents: Buffer[];
}

export interface ModelStreamInferResponseOut {
  error_message: string;
  infer_response: Partial<ModelInferResponseOut> | null;
}

/** Requests that only name a model (ModelReady, ModelMetadata, ModelConfig, ModelStatistics). */
export interface ModelRefMsg {
  name: string;
  version: string;
}

export interface RepositoryIndexRequestMsg {
  repository_name: string;
  ready: boolean;
}

/** A ModelRepositoryParameter as grpc-js decodes it (oneofs: the set member's name). */
export interface RepositoryParameterMsg {
  parameter_choice?: "bool_param" | "int64_param" | "string_param" | "bytes_param";
  bool_param: boolean;
  int64_param: string;
  string_param: string;
  bytes_param: Uint8Array;
}

/** RepositoryModelLoadRequest and RepositoryModelUnloadRequest. */
export interface RepositoryModelRequestMsg {
  repository_name: string;
  model_name: string;
  parameters?: Record<string, RepositoryParameterMsg>;
}

export interface HealthCheckRequestMsg {
  service: string;
}
