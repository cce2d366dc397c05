// The models of bench/native-identity/run.mjs: the same identity in JS and in native code.
import { bind, native, tensor } from "tensorbind";

const addon = new URL("./build/Release/identity.node", import.meta.url).pathname;

bind({
  name: "js_identity",
  maxBatchSize: 8,
  inputs: { INPUT0: tensor("FP32", [-1]) },
  outputs: { OUTPUT0: tensor("FP32", [-1]) },
  fn: ({ INPUT0 }) => ({ OUTPUT0: INPUT0 }),
});
bind({ name: "native_identity", fn: native(addon, "identity") });
bind({ name: "native_identity_copy", fn: native(addon, "identity_copy") });
