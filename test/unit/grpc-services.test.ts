import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { describe, expect, it } from "vitest";
import { LOADER_OPTIONS, loadProtos } from "../../src/frontends/grpc/load.js";

// The server's service definitions are built from protobufjs' reflection directly (faster start);
// they must be what @grpc/proto-loader would have built, method by method.
const reference = loadSync(["grpc_service.proto", "health.proto"], LOADER_OPTIONS);

type Method = MethodDefinition<unknown, unknown>;

function methods(definition: ServiceDefinition): [string, Method][] {
  return Object.entries(definition) as [string, Method][];
}

const MESSAGES: Record<string, object> = {
  ModelInfer: {
    model_name: "m",
    model_version: "1",
    id: "x",
    parameters: { p: { int64_param: "9007199254740993" }, q: { string_param: "s" } },
    inputs: [{ name: "A", datatype: "INT64", shape: ["2", "1"], contents: { int64_contents: ["-3", "4"] } }],
    outputs: [{ name: "B", parameters: { binary_data: { bool_param: true } } }],
    raw_input_contents: [Buffer.from([1, 2, 3])],
  },
  ModelConfig: { name: "m", version: "" },
  Check: { service: "" },
};

describe("gRPC service definitions", () => {
  it.each([
    ["inference.GRPCInferenceService", () => loadProtos().inference],
    ["grpc.health.v1.Health", () => loadProtos().health],
  ])("%s matches @grpc/proto-loader's", (name, ours) => {
    const theirs = reference[name] as ServiceDefinition;
    const mine = ours();
    expect(Object.keys(mine).sort()).toEqual(Object.keys(theirs).sort());
    for (const [method, def] of methods(theirs)) {
      const m = mine[method] as Method;
      expect({ path: m.path, req: m.requestStream, res: m.responseStream, name: m.originalName }).toEqual({
        path: def.path,
        req: def.requestStream,
        res: def.responseStream,
        name: def.originalName,
      });
      // The same bytes and the same decoded objects (options: keepCase, longs and enums as
      // strings, defaults, oneofs), for a message with 64-bit integers, a oneof and bytes.
      const sample = MESSAGES[method] ?? {};
      const wire = m.requestSerialize(sample);
      expect(Buffer.compare(wire, def.requestSerialize(sample))).toBe(0);
      expect(m.requestDeserialize(wire)).toEqual(def.requestDeserialize(wire));
      const empty = def.responseSerialize({});
      expect(Buffer.compare(m.responseSerialize({}), empty)).toBe(0);
      expect(m.responseDeserialize(empty)).toEqual(def.responseDeserialize(empty));
    }
  });

  it("still offers the whole package tree for clients", () => {
    const tree = loadProtos().grpc as Record<string, Record<string, unknown>>;
    expect(typeof tree.inference?.GRPCInferenceService).toBe("function");
  });
});
