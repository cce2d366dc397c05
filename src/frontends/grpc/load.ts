import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { GrpcObject, ServiceDefinition } from "@grpc/grpc-js";
import { loadPackageDefinition } from "@grpc/grpc-js";
import { loadSync, type Options } from "@grpc/proto-loader";

/**
 * Loads the project's .proto files. They ship in the package as `src/frontends/grpc/proto`
 * (package.json "files"); this module lives three levels below the package root both as
 * `src/protocol/grpc/load.ts` and as `dist/protocol/grpc/load.js`, so one relative URL finds
 * them from either.
 */
export const PROTO_DIR = fileURLToPath(new URL("../../../src/frontends/grpc/proto/", import.meta.url));

/**
 * How messages look in JS. keepCase keeps Triton's snake_case field names; 64-bit integers
 * arrive as decimal strings so nothing above 2^53 is silently rounded (we parse them to
 * number or bigint ourselves); bytes stay Buffers (views into the received frame); defaults
 * make absent fields "", 0, [] or null so handlers need no undefined checks; oneofs adds the
 * name of the set member (`parameter_choice`).
 */
export const LOADER_OPTIONS: Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

export interface Protos {
  readonly inference: ServiceDefinition;
  readonly health: ServiceDefinition;
  /** The whole package tree, for building clients (tests, tools). */
  readonly grpc: GrpcObject;
}

let cached: Protos | undefined;

/** The inference and health service definitions; parsed once per process. */
export function loadProtos(): Protos {
  if (cached) return cached;
  if (!existsSync(PROTO_DIR))
    throw new Error(`tensorbind's .proto files are missing (looked in ${PROTO_DIR})`);
  const definition = loadSync(["grpc_service.proto", "health.proto"], LOADER_OPTIONS);
  const grpc = loadPackageDefinition(definition);
  const inference = grpc.inference as GrpcObject;
  const health = (((grpc.grpc as GrpcObject).health as GrpcObject).v1 as GrpcObject).Health as {
    service: ServiceDefinition;
  };
  cached = {
    inference: (inference.GRPCInferenceService as { service: ServiceDefinition }).service,
    health: health.service,
    grpc,
  };
  return cached;
}
