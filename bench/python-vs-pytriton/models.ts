// bench/python-vs-pytriton: the Python identity function (model.py) served by tensorbind as
// model `identity`, one worker process (PyTriton's side also runs one Python process).
import { fileURLToPath } from "node:url";
import { bind, python } from "tensorbind";

bind({
  name: "identity",
  fn: python(fileURLToPath(new URL("./model.py", import.meta.url)), "infer", { instances: 1 }),
});
