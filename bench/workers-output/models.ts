// The models of bench/workers-output/run.mjs: identities that answer a fresh output of the
// request's size, in native code (an output block from the instance's pool) and in JavaScript.
import { bind, native, tensor } from "tensorbind";

const addon = new URL("../native-identity/build/Release/identity.node", import.meta.url).pathname;
bind({ name: "native_identity_copy", fn: native(addon, "identity_copy") });
bind({
  name: "js_identity_copy",
  inputs: { INPUT0: tensor("FP32", [-1, -1]) },
  outputs: { OUTPUT0: tensor("FP32", [-1, -1]) },
  fn: ({ INPUT0 }) => ({ OUTPUT0: { shape: INPUT0!.shape, data: (INPUT0!.data as Float32Array).slice() } }),
});
