// The quickstart models, in the shape Triton users know from its `simple` examples:
//   simple         INPUT0, INPUT1 INT32 [-1,16] → OUTPUT0 = sum, OUTPUT1 = difference
//   simple_string  the same on BYTES tensors holding decimal integers
//   identity_<dt>  one identity model per datatype (identity_fp32, identity_bytes, …)
// Serve with: npx tensorbind serve examples/quickstart/models.ts
import { bind, DATATYPES, type Datatype, type Tensor, tensor } from "tensorbind";

bind({
  name: "simple",
  maxBatchSize: 8,
  inputs: { INPUT0: tensor("INT32", [16]), INPUT1: tensor("INT32", [16]) },
  outputs: { OUTPUT0: tensor("INT32", [16]), OUTPUT1: tensor("INT32", [16]) },
  fn: ({ INPUT0, INPUT1 }) => {
    const a = INPUT0!.data as Int32Array;
    const b = INPUT1!.data as Int32Array;
    return {
      OUTPUT0: a.map((x, i) => x + b[i]!),
      OUTPUT1: a.map((x, i) => x - b[i]!),
    };
  },
});

bind({
  name: "simple_string",
  maxBatchSize: 8,
  inputs: { INPUT0: tensor("BYTES", [16]), INPUT1: tensor("BYTES", [16]) },
  outputs: { OUTPUT0: tensor("BYTES", [16]), OUTPUT1: tensor("BYTES", [16]) },
  fn: ({ INPUT0, INPUT1 }) => {
    const a = (INPUT0!.data as string[]).map(Number);
    const b = (INPUT1!.data as string[]).map(Number);
    const shape = INPUT0!.shape;
    return {
      OUTPUT0: tensor.fromStrings(
        shape,
        a.map((x, i) => String(x + b[i]!)),
      ),
      OUTPUT1: tensor.fromStrings(
        shape,
        a.map((x, i) => String(x - b[i]!)),
      ),
    };
  },
});

for (const datatype of Object.keys(DATATYPES) as Datatype[]) {
  bind({
    name: `identity_${datatype.toLowerCase()}`,
    maxBatchSize: 8,
    inputs: { INPUT0: tensor(datatype, [-1]) },
    outputs: { OUTPUT0: tensor(datatype, [-1]) },
    // The output is the input's bytes under a new name: no copy.
    fn: ({ INPUT0 }) => ({ OUTPUT0: INPUT0 as Tensor }),
  });
}
