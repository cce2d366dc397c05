// bench/json-identity: the Python identity function of bench/python-vs-pytriton served by
// tensorbind as model `identity` (one worker process), for JSON requests.
import { fileURLToPath } from "node:url";
import { bind, python } from "tensorbind";

bind({
  name: "identity",
  fn: python(fileURLToPath(new URL("../python-vs-pytriton/model.py", import.meta.url)), "infer", {
    instances: 1,
  }),
});
