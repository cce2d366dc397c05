// The models of bench/large-tensors/run.mjs: 64 MiB FP32 identities in native code (a fresh
// output, like a real model; and a forwarded input, no copy) and in Python (numpy).
import { fileURLToPath } from "node:url";
import { bind, native, python } from "tensorbind";

const addon = new URL("../native-identity/build/Release/identity.node", import.meta.url).pathname;
bind({ name: "native_identity_copy", fn: native(addon, "identity_copy") });
bind({ name: "native_identity", fn: native(addon, "identity") });
bind({
  name: "python_identity",
  fn: python(fileURLToPath(new URL("../python-vs-pytriton/model.py", import.meta.url)), "infer", {
    instances: 1,
  }),
});
