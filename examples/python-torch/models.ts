// Binds examples/python-torch/model.py; TENSORBIND_DEVICE=cuda:0 runs it on a GPU. Serve it with:
//   TENSORBIND_PYTHON=.venv/bin/python npx tensorbind serve examples/python-torch/models.ts
// (the interpreter needs torch, numpy, pyzmq and pyarrow)
import { fileURLToPath } from "node:url";
import { bind, python } from "tensorbind";

bind({
  name: "mlp",
  fn: python(fileURLToPath(new URL("./model.py", import.meta.url)), "infer", {
    framework: "torch",
    device: process.env.TENSORBIND_DEVICE ?? "cpu",
    instances: 1,
  }),
});
