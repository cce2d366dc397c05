// Models for test/conformance/test_shared_memory.py: the shared-memory extensions driven by
// tritonclient and perf_analyzer against JS, Python and native models.
import { fileURLToPath } from "node:url";
import { bind, python, type Tensor, tensor } from "tensorbind";

const MODEL = fileURLToPath(new URL("./shm_model.py", import.meta.url));

bind({
  name: "shm_js",
  inputs: { INPUT0: tensor("FP32", [-1]) },
  outputs: { OUTPUT0: tensor("FP32", [-1]) },
  fn: ({ INPUT0 }) => ({ OUTPUT0: INPUT0 as Tensor }),
});

bind({ name: "shm_py", fn: python(MODEL, "identity") });
bind({ name: "shm_py_where", fn: python(MODEL, "where") });
