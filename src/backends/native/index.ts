import { BACKEND_FACTORY, type BackendFactory } from "../../core/backend.js";
import { ConfigError } from "../../core/errors.js";
import { NativeBackend } from "./native-backend.js";
import { type NativeOptions, resolveNativeOptions } from "./options.js";

export type { NativeInstanceOptions, NativeOptions } from "./options.js";

/**
 * Serves a model function of a native (C++/CUDA) addon built against tensorbind's header API
 * (`native/include/tensorbind/`). Each instance runs calls on its own thread, so the server keeps
 * answering while native code runs. The addon's declared specs may stand in for bind()'s.
 *
 * @example
 * bind({ name: "vector_add", fn: native("examples/native-cpu/build/Release/vector_ops.node", "vector_add") });
 * // Two instances on each of four GPUs (Triton's instance_group { count: 2, gpus: [0, 1, 2, 3] }):
 * bind({ name: "saxpy", fn: native("build/Release/saxpy.node", "saxpy", { instances: { count: 2, gpus: [0, 1, 2, 3] } }) });
 */
export function native(addonPath: string, functionName: string, options: NativeOptions = {}): BackendFactory {
  const resolved = resolveNativeOptions(addonPath, functionName, options);
  return {
    [BACKEND_FACTORY]: true,
    kind: "native",
    create: ({ instances } = {}) => {
      if (instances === undefined) return new NativeBackend(resolved);
      if (options.instances !== undefined && options.instances !== instances)
        throw new ConfigError("instances is given to both bind() and native(); give it once");
      return new NativeBackend(resolveNativeOptions(addonPath, functionName, { ...options, instances }));
    },
  };
}
