import {
  type ChannelOptions,
  type Client,
  credentials,
  type GrpcObject,
  Metadata,
  type ServiceError,
} from "@grpc/grpc-js";
import { loadProtos } from "../../src/frontends/grpc/load.js";

/** A grpc-js client for the inference service, built from the same .proto files the server serves. */
export interface InferenceClient {
  readonly raw: Client & Record<string, (...args: unknown[]) => unknown>;
  /** Calls a unary RPC; rejects with the ServiceError (`code`, `details`). */
  call<T = any>(
    method: string,
    request: unknown,
    options?: { deadline?: Date; metadata?: Metadata },
  ): Promise<T>;
  close(): void;
}

export function inferenceClient(address: string, options: ChannelOptions = {}): InferenceClient {
  const inference = loadProtos().grpc.inference as GrpcObject;
  const Ctor = inference.GRPCInferenceService as unknown as new (
    address: string,
    creds: ReturnType<typeof credentials.createInsecure>,
    options: ChannelOptions,
  ) => InferenceClient["raw"];
  const raw = new Ctor(address, credentials.createInsecure(), {
    "grpc.max_receive_message_length": -1,
    "grpc.max_send_message_length": -1,
    ...options,
  });
  return {
    raw,
    call: (method, request, opts = {}) =>
      new Promise((resolve, reject) => {
        const fn = raw[method]!.bind(raw) as (
          req: unknown,
          md: Metadata,
          o: { deadline?: Date },
          cb: (err: ServiceError | null, res: unknown) => void,
        ) => unknown;
        fn(
          request,
          opts.metadata ?? new Metadata(),
          opts.deadline ? { deadline: opts.deadline } : {},
          (err, res) => (err ? reject(err) : resolve(res as never)),
        );
      }),
    close: () => raw.close(),
  };
}

export function healthClient(address: string) {
  const v1 = ((loadProtos().grpc.grpc as GrpcObject).health as GrpcObject).v1 as GrpcObject;
  const Ctor = v1.Health as unknown as new (
    a: string,
    c: ReturnType<typeof credentials.createInsecure>,
  ) => Client & {
    Check(req: unknown, cb: (err: ServiceError | null, res: { status: string }) => void): void;
  };
  const raw = new Ctor(address, credentials.createInsecure());
  return {
    /** Resolves with the status Watch ends with. */
    watch: (service: string) =>
      new Promise<number>((resolve) => {
        const call = (raw as unknown as { Watch(req: unknown): NodeJS.EventEmitter }).Watch({ service });
        call.on("data", () => {});
        call.on("error", (e: ServiceError) => resolve(e.code));
        call.on("status", (s: { code: number }) => resolve(s.code));
      }),
    check: (service: string) =>
      new Promise<{ status: string }>((resolve, reject) =>
        raw.Check({ service }, (e, r) => (e ? reject(e) : resolve(r))),
      ),
    close: () => raw.close(),
  };
}

/** Rejects unless `promise` fails with this gRPC status code; returns the error. */
export async function expectGrpcError(promise: Promise<unknown>, code: number): Promise<ServiceError> {
  try {
    await promise;
  } catch (err) {
    const e = err as ServiceError;
    if (e.code !== code) throw new Error(`expected gRPC status ${code}, got ${e.code}: ${e.details}`);
    return e;
  }
  throw new Error(`expected gRPC status ${code}, but the call succeeded`);
}

/** A raw ModelInferRequest input (bytes in raw_input_contents). */
export function rawRequest(
  model: string,
  inputs: { name: string; datatype: string; shape: number[]; bytes: Uint8Array }[],
  extra: Record<string, unknown> = {},
) {
  return {
    model_name: model,
    inputs: inputs.map(({ name, datatype, shape }) => ({ name, datatype, shape })),
    raw_input_contents: inputs.map((i) =>
      Buffer.from(i.bytes.buffer, i.bytes.byteOffset, i.bytes.byteLength),
    ),
    ...extra,
  };
}

const CONTENTS_FIELD: Record<string, string> = {
  BOOL: "bool_contents",
  UINT8: "uint_contents",
  UINT16: "uint_contents",
  UINT32: "uint_contents",
  UINT64: "uint64_contents",
  INT8: "int_contents",
  INT16: "int_contents",
  INT32: "int_contents",
  INT64: "int64_contents",
  FP32: "fp32_contents",
  FP64: "fp64_contents",
  BYTES: "bytes_contents",
};

/** Typed InferTensorContents for values of a datatype (64-bit integers as decimal strings). */
export function typedContents(datatype: string, values: readonly unknown[]): Record<string, unknown[]> {
  const field = CONTENTS_FIELD[datatype];
  if (field === undefined) throw new Error(`${datatype} has no typed contents field`);
  return {
    [field]: values.map((v) =>
      typeof v === "bigint" ? v.toString() : datatype === "BYTES" ? Buffer.from(String(v)) : v,
    ),
  };
}

/** A request parameter as an InferParameter. */
export function inferParameter(v: unknown): Record<string, unknown> {
  if (typeof v === "boolean") return { bool_param: v };
  if (typeof v === "string") return { string_param: v };
  if (typeof v === "bigint") return { int64_param: v.toString() };
  if (typeof v === "number" && Number.isInteger(v)) return { int64_param: v };
  return { double_param: v };
}
