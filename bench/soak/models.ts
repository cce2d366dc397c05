// The soak's models: a JS identity and a Python identity (2 workers), over HTTP and gRPC.
import { bind, python, tensor } from "tensorbind";

bind({
  name: "js_identity",
  inputs: { x: tensor("FP32", [-1]) },
  outputs: { y: tensor("FP32", [-1]) },
  fn: ({ x }) => ({ y: x! }),
});

bind({
  name: "py_identity",
  inputs: { x: tensor("FP32", [-1]) },
  outputs: { y: tensor("FP32", [-1]) },
  fn: python(new URL("./py_models.py", import.meta.url).pathname, "identity", {
    instances: 2,
    ...(process.env.TENSORBIND_PYTHON ? { interpreter: process.env.TENSORBIND_PYTHON } : {}),
  }),
});
