import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { GrpcObject, MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";
import type { Options } from "@grpc/proto-loader";
import protobuf from "protobufjs";

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

const FILES = ["grpc_service.proto", "health.proto"];

/**
 * The inference and health service definitions; parsed once per process. They are built from
 * protobufjs' reflection as @grpc/proto-loader builds them (same paths, (de)serializers and
 * options; test/unit/grpc-services.test.ts compares the two), without the descriptor protos that
 * proto-loader also encodes for every method: ~50 ms of every gRPC server's start (target P5).
 */
export function loadProtos(): Protos {
  if (cached) return cached;
  if (!existsSync(PROTO_DIR))
    throw new Error(`tensorbind's .proto files are missing (looked in ${PROTO_DIR})`);
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (isAbsolute(target) ? target : join(PROTO_DIR, target));
  root.loadSync(FILES, { keepCase: true });
  root.resolveAll();
  let grpc: GrpcObject | undefined;
  cached = {
    inference: serviceDefinition(root.lookupService("inference.GRPCInferenceService")),
    health: serviceDefinition(root.lookupService("grpc.health.v1.Health")),
    get grpc() {
      grpc ??= packageTree();
      return grpc;
    },
  };
  return cached;
}

/** What @grpc/proto-loader's createServiceDefinition makes of `service`, less the descriptors. */
function serviceDefinition(service: protobuf.Service): ServiceDefinition {
  const definition: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methodsArray) {
    const request = method.resolvedRequestType!;
    const response = method.resolvedResponseType!;
    definition[method.name] = {
      path: `/${service.fullName.slice(1)}/${method.name}`,
      requestStream: method.requestStream === true,
      responseStream: method.responseStream === true,
      requestSerialize: serializer(request),
      requestDeserialize: deserializer(request),
      responseSerialize: serializer(response),
      responseDeserialize: deserializer(response),
      originalName: method.name.charAt(0).toLowerCase() + method.name.slice(1),
    };
  }
  return definition as ServiceDefinition;
}

function serializer(type: protobuf.Type): (value: unknown) => Buffer {
  return (value) => {
    if (Array.isArray(value))
      throw new Error(
        `Failed to serialize message: expected object with ${type.name} structure, got array instead`,
      );
    // protobufjs' writer in Node yields a Buffer (what proto-loader hands to grpc-js as well)
    return type.encode(type.fromObject(value as Record<string, unknown>)).finish() as Buffer;
  };
}

function deserializer(type: protobuf.Type): (bytes: Buffer) => unknown {
  return (bytes) => type.toObject(type.decode(bytes), LOADER_OPTIONS);
}

/** The whole package tree through @grpc/proto-loader, for building clients (tests, tools): loaded on first use. */
function packageTree(): GrpcObject {
  const require = createRequire(import.meta.url);
  const { loadSync } = require("@grpc/proto-loader") as typeof import("@grpc/proto-loader");
  const { loadPackageDefinition } = require("@grpc/grpc-js") as typeof import("@grpc/grpc-js");
  return loadPackageDefinition(loadSync(FILES, LOADER_OPTIONS));
}
