// Binds examples/python-numpy/model.py; serve it with the CLI:
//   TENSORBIND_PYTHON=.venv/bin/python npx tensorbind serve examples/python-numpy/models.ts
// (the interpreter needs numpy, pyzmq and pyarrow: `bash scripts/setup-python.sh` makes .venv)
import { fileURLToPath } from "node:url";
import { bind, python } from "tensorbind";

bind({
  name: "linear_softmax",
  // inputs, outputs and maxBatchSize come from @tensorbind.model in model.py
  fn: python(fileURLToPath(new URL("./model.py", import.meta.url)), "infer", { instances: 2 }),
});
