import { describe, expect, it } from "vitest";
import { parseModelConfigText } from "../../src/repository/pbtxt.js";

describe("config.pbtxt (protobuf text format against Triton's ModelConfig)", () => {
  it("reads messages, lists, maps, enums, oneofs and comments into the protobuf JSON form", () => {
    const config = parseModelConfigText(`
      name: "m"  # a comment
      backend: "python"
      max_batch_size: 8
      input [ { name: "IN" data_type: TYPE_FP32 dims: [ -1, 4 ] reshape { shape: [ 4 ] } optional: true } ]
      output { name: "OUT", data_type: TYPE_STRING, dims: [ 1 ] }
      output < name: 'OUT2' data_type: TYPE_INT64 dims: 3 dims: 2 >
      instance_group [ { count: 2 kind: KIND_GPU gpus: [ 0, 1 ] } ]
      dynamic_batching { preferred_batch_size: [ 4, 8 ] max_queue_delay_microseconds: 100 }
      parameters { key: "EXECUTION_ENV_PATH" value: { string_value: "$$TRITON_MODEL_DIRECTORY/" "env" } }
      parameters [ { key: "k", value { string_value: "v\\n" } } ]
      version_policy: { specific { versions: [ 1, 3 ] } }
      model_transaction_policy { decoupled: True }
    `);
    expect(config).toEqual({
      name: "m",
      backend: "python",
      max_batch_size: 8,
      input: [{ name: "IN", data_type: "TYPE_FP32", dims: [-1, 4], reshape: { shape: [4] }, optional: true }],
      output: [
        { name: "OUT", data_type: "TYPE_STRING", dims: [1] },
        { name: "OUT2", data_type: "TYPE_INT64", dims: [3, 2] },
      ],
      instance_group: [{ count: 2, kind: "KIND_GPU", gpus: [0, 1] }],
      dynamic_batching: { preferred_batch_size: [4, 8], max_queue_delay_microseconds: 100 },
      parameters: {
        EXECUTION_ENV_PATH: { string_value: "$$TRITON_MODEL_DIRECTORY/env" },
        k: { string_value: "v\n" },
      },
      version_policy: { specific: { versions: [1, 3] } },
      model_transaction_policy: { decoupled: true },
    });
  });

  it("reads an ensemble's steps with their input and output maps", () => {
    const config = parseModelConfigText(`
      platform: "ensemble"
      ensemble_scheduling { step [
        { model_name: "a" model_version: -1 input_map { key: "X" value: "IN" } output_map { key: "Y" value: "t" } },
        { model_name: "b" model_version: 2 input_map [ { key: "X" value: "t" } ] output_map { key: "Y" value: "OUT" } }
      ] }
    `);
    expect(config.ensemble_scheduling).toEqual({
      step: [
        { model_name: "a", model_version: -1, input_map: { X: "IN" }, output_map: { Y: "t" } },
        { model_name: "b", model_version: 2, input_map: { X: "t" }, output_map: { Y: "OUT" } },
      ],
    });
  });

  it.each([
    ["name: 3", "cfg:1:7: 'name' needs a quoted string, found '3'"],
    ['max_batch_size: "8"', "cfg:1:17: 'max_batch_size' needs an integer"],
    ['input { name: "a" data_type: TYPE_FLOAT }', "cfg:1:30: 'TYPE_FLOAT' is not a value of DataType"],
    ["\n\n  colour: 1", "cfg:3:3: ModelConfig has no field 'colour'"],
    [
      "dynamic_batching {}\nensemble_scheduling {}",
      "cfg:2:1: 'ensemble_scheduling' and 'dynamic_batching' cannot both be set",
    ],
    ['input [ { name: "a" ', "cfg:1:21: expected '}' to close ModelInput"],
    ['name: "a"\nname: "b"', "cfg:2:1: 'name' is set more than once"],
    ['name: "a', "cfg:1:7: unterminated string"],
    ["max_batch_size: 1 $", "cfg:1:19: unexpected character '$'"],
  ])("reports %j at file:line:column", (text, message) => {
    expect(() => parseModelConfigText(text, "cfg")).toThrow(message);
  });
});
