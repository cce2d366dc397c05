// The models of bench/large-tensors/run.mjs: 64 MiB FP32 identities in native code (a fresh
// output, like a real model; and a forwarded input, no copy), in Python (numpy), and in
// JavaScript (a fresh array per request: js_identity_copy, not in run.mjs's default list).
import { fileURLToPath } from "node:url";
import { bind, native, python, tensor } from "tensorbind";

const addon = new URL("../native-identity/build/Release/identity.node", import.meta.url).pathname;
bind({ name: "native_identity_copy", fn: native(addon, "identity_copy") });
bind({ name: "native_identity", fn: native(addon, "identity") });
bind({
  name: "python_identity",
  fn: python(fileURLToPath(new URL("../python-vs-pytriton/model.py", import.meta.url)), "infer", {
    instances: 1,
  }),
});
bind({
  name: "js_identity_copy",
  inputs: { INPUT0: tensor("FP32", [-1, -1]) },
  outputs: { OUTPUT0: tensor("FP32", [-1, -1]) },
  fn: ({ INPUT0 }) => ({ OUTPUT0: { shape: INPUT0!.shape, data: (INPUT0!.data as Float32Array).slice() } }),
});
// The same with ctx.output(): the array's memory is reused from response to response.
bind({
  name: "js_identity_pooled",
  inputs: { INPUT0: tensor("FP32", [-1, -1]) },
  outputs: { OUTPUT0: tensor("FP32", [-1, -1]) },
  fn: ({ INPUT0 }, ctx) => {
    const y = ctx.output("OUTPUT0", INPUT0!.shape) as Float32Array;
    y.set(INPUT0!.data as Float32Array);
    return { OUTPUT0: { shape: INPUT0!.shape, data: y } };
  },
});
