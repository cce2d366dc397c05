// Serves the vector operations of vector_ops.cc. Build and serve in one go: `npm run example:native-cpu`.
// The specs come from the addon's declarations; bind() may repeat them (they are then checked).
import { fileURLToPath } from "node:url";
import { bind, native } from "tensorbind";

const addon = fileURLToPath(new URL("./build/Release/vector_ops.node", import.meta.url));

bind({ name: "vector_add", fn: native(addon, "vector_add", { instances: 2 }) });
bind({ name: "select_above", fn: native(addon, "select_above") });
