import type { CallContext } from "../../src/backends/js/function-types.js";
import { DATATYPES, type Datatype } from "../../src/core/datatypes.js";
import { Tensor } from "../../src/core/tensor.js";
import { tensor } from "../../src/core/tensor-factory.js";
import type { BindOptions } from "../../src/model/model.js";

/** Three values per datatype that reach its edges (FP16/BF16 values are exact in half precision). */
export const SAMPLES: Readonly<Record<Datatype, readonly (number | bigint | boolean | string)[]>> = {
  BOOL: [true, false, true],
  UINT8: [0, 1, 255],
  UINT16: [0, 1, 65535],
  UINT32: [0, 1, 4294967295],
  UINT64: [0n, 1n, 18446744073709551615n],
  INT8: [-128, 0, 127],
  INT16: [-32768, 0, 32767],
  INT32: [-2147483648, 0, 2147483647],
  INT64: [-9223372036854775808n, 0n, 9223372036854775807n],
  FP16: [1.5, -2, 0.25],
  BF16: [1.5, -2, 0.25],
  FP32: [1.5, -2.25, 3e38],
  FP64: [1.5, -2.25, 1e300],
  BYTES: ["a", "", "héllo"],
};

export const ALL_DATATYPES = Object.keys(DATATYPES) as Datatype[];

/** The sample as a [1, 3] tensor's wire bytes. */
export function sampleBytes(datatype: Datatype): Uint8Array {
  return Tensor.fromArray(datatype, [1, 3], SAMPLES[datatype]).bytes;
}

/** identity_<dtype> for every datatype, batching like the quickstart's. */
export function identityModels(): BindOptions[] {
  return ALL_DATATYPES.map((datatype) => ({
    name: `identity_${datatype.toLowerCase()}`,
    maxBatchSize: 8,
    inputs: { INPUT0: tensor(datatype, [-1]) },
    outputs: { OUTPUT0: tensor(datatype, [-1]) },
    fn: ({ INPUT0 }) => ({ OUTPUT0: INPUT0 as Tensor }),
  }));
}

/** Triton's `simple`: two INT32 [16] inputs, their sum and difference. */
export const simpleModel: BindOptions = {
  name: "simple",
  maxBatchSize: 8,
  inputs: { INPUT0: tensor("INT32", [16]), INPUT1: tensor("INT32", [16]) },
  outputs: { OUTPUT0: tensor("INT32", [16]), OUTPUT1: tensor("INT32", [16]) },
  fn: ({ INPUT0, INPUT1 }) => {
    const a = INPUT0!.data as Int32Array;
    const b = INPUT1!.data as Int32Array;
    return { OUTPUT0: a.map((x, i) => x + b[i]!), OUTPUT1: a.map((x, i) => x - b[i]!) };
  },
};

/** A KServe v2 JSON infer request for `simpleModel`: one row, OUTPUT0 = 1..16, OUTPUT1 = -1..14. */
export const simpleRequest = {
  inputs: [
    { name: "INPUT0", datatype: "INT32", shape: [1, 16], data: Array.from({ length: 16 }, (_, i) => i) },
    { name: "INPUT1", datatype: "INT32", shape: [1, 16], data: Array<number>(16).fill(1) },
  ],
};

/** Answers with its request parameters as JSON (bigints as strings), so tests can see what arrived. */
export const paramsModel: BindOptions = {
  name: "params",
  inputs: { INPUT0: tensor("INT32", [1]) },
  outputs: { PARAMS: tensor("BYTES", [1]) },
  fn: (_inputs, ctx: CallContext) => ({
    PARAMS: tensor.fromStrings(
      [1],
      [JSON.stringify(ctx.parameters, (_k, v) => (typeof v === "bigint" ? `${v}n` : v))],
    ),
  }),
};

/**
 * A one-instance model whose executions wait for `release()`; `executed` lists the ids it ran.
 * Lets a test hold the instance busy so that later requests stay queued.
 */
export function gatedModel(name = "gated") {
  let open: () => void = () => {};
  let gate = new Promise<void>((r) => {
    open = r;
  });
  const executed: (string | undefined)[] = [];
  const started: (string | undefined)[] = [];
  const model: BindOptions = {
    name,
    instances: 1,
    inputs: { INPUT0: tensor("INT32", [1]) },
    outputs: { OUTPUT0: tensor("INT32", [1]) },
    fn: async ({ INPUT0 }, ctx) => {
      started.push(ctx.id);
      await gate;
      executed.push(ctx.id);
      return { OUTPUT0: INPUT0 as Tensor };
    },
  };
  return {
    model,
    executed,
    started,
    release() {
      open();
      gate = new Promise<void>((r) => {
        open = r;
      });
    },
    /** Lets every execution through from now on. */
    openForever() {
      open();
      gate = Promise.resolve();
    },
  };
}
