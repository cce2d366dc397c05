// Compile-only check that the README's example type-checks as written (run by `npm run typecheck`).
import { bind, tensor } from "tensorbind";

bind({
  name: "add_sub",
  inputs: { INPUT0: tensor("INT32", [16]), INPUT1: tensor("INT32", [16]) },
  outputs: { OUTPUT0: tensor("INT32", [16]), OUTPUT1: tensor("INT32", [16]) },
  fn: ({ INPUT0, INPUT1 }) => {
    const a = INPUT0.data,
      b = INPUT1.data; // Int32Array views of the request bytes
    return { OUTPUT0: a.map((x, i) => x + b[i]!), OUTPUT1: a.map((x, i) => x - b[i]!) };
  },
});
