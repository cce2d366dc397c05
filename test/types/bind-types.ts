// Compile-only checks (run by `npm run typecheck`, which CI runs): what a TypeScript user sees
// when writing a model. Each `@ts-expect-error` fails the build if the mistake ever compiles.
import { batch, bind, type InputsOf, python, type Tensor, tensor } from "tensorbind";
import { expectTypeOf } from "vitest";

// .data follows the declared datatype; an optional input may be absent.
bind({
  name: "typed",
  inputs: {
    X: tensor("FP32", [4]),
    IDS: tensor("INT64", [-1]),
    MASK: tensor("BOOL", [-1]),
    TEXT: tensor("BYTES", [1]),
    HALF: tensor("FP16", [2]),
    SCALE: tensor("FP64", [1], { optional: true }),
  },
  outputs: { Y: tensor("FP32", [4]) },
  fn: ({ X, IDS, MASK, TEXT, HALF, SCALE }) => {
    expectTypeOf(X.data).toEqualTypeOf<Float32Array>();
    expectTypeOf(X.datatype).toEqualTypeOf<"FP32">();
    expectTypeOf(IDS.data).toEqualTypeOf<BigInt64Array>();
    expectTypeOf(MASK.data).toEqualTypeOf<Uint8Array>();
    expectTypeOf(TEXT.data).toEqualTypeOf<string[]>();
    expectTypeOf(HALF.data).toEqualTypeOf<Uint16Array>();
    expectTypeOf(SCALE).toEqualTypeOf<Tensor<"FP64"> | undefined>();
    // @ts-expect-error an optional input may be absent: check it first
    SCALE.data;
    const s = SCALE?.data[0] ?? 1;
    return { Y: X.data.map((v) => v * s) };
  },
});

// A name that is not an input does not compile.
bind({
  name: "stray-input",
  inputs: { X: tensor("FP32", [4]) },
  outputs: { Y: tensor("FP32", [4]) },
  // @ts-expect-error Q is not an input
  fn: ({ X, Q }) => ({ Y: Q ?? X }),
});

// A wrong output name is reported on fn (the stray name becomes `never`), not on `outputs`.
bind({
  name: "stray-output",
  inputs: { X: tensor("FP32", [4]) },
  outputs: { Y: tensor("FP32", [4]) },
  // @ts-expect-error Z is not an output
  fn: ({ X }) => ({ Y: X.data, Z: X.data }),
});
bind({
  name: "stray-output-async",
  inputs: { X: tensor("FP32", [4]) },
  outputs: { Y: tensor("FP32", [4]) },
  // @ts-expect-error Z is not an output
  fn: async ({ X }) => ({ Z: X.data }),
});

// batch() with the specs named: inputs typed and checked.
const inputs = { X: tensor("FP32", [4]), Q: tensor("INT32", [1], { optional: true }) };
const outputs = { Y: tensor("FP32", [4]) };
bind({
  name: "batched",
  maxBatchSize: 8,
  inputs,
  outputs,
  fn: batch<typeof inputs>(({ X, Q }) => {
    expectTypeOf(X.data).toEqualTypeOf<Float32Array>();
    expectTypeOf(Q).toEqualTypeOf<Tensor<"INT32"> | undefined>();
    return { Y: X.data };
  }),
});
const onlyX = { X: tensor("FP32", [4]) };
bind({
  name: "batched-stray",
  maxBatchSize: 8,
  inputs: onlyX,
  outputs,
  // @ts-expect-error Q is not an input of onlyX
  fn: batch<typeof onlyX>(({ X, Q }) => ({ Y: Q ?? X })),
});
expectTypeOf<InputsOf<typeof inputs>>().toEqualTypeOf<
  { readonly X: Tensor<"FP32"> } & { readonly Q?: Tensor<"INT32"> }
>();

// Backends that declare their own specs need none.
bind({ name: "py", fn: python("model.py", "infer") });
