// bench/gpu/shm.sh: a JS identity and a PyTorch model on cuda:0, driven through CUDA shared memory.
import { fileURLToPath } from "node:url";
import { bind, python, type Tensor, tensor } from "tensorbind";

bind({
  name: "identity",
  inputs: { INPUT0: tensor("FP32", [-1]) },
  outputs: { OUTPUT0: tensor("FP32", [-1]) },
  fn: ({ INPUT0 }) => ({ OUTPUT0: INPUT0 as Tensor }),
});

bind({
  name: "torch_double",
  fn: python(fileURLToPath(new URL("./shm_model.py", import.meta.url)), "double", {
    framework: "torch",
    device: "cuda:0",
  }),
});

bind({
  name: "torch_in_place",
  fn: python(fileURLToPath(new URL("./shm_model.py", import.meta.url)), "add_one_in_place", {
    framework: "torch",
    device: "cuda:0",
  }),
});
