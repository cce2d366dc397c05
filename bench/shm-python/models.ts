// bench/shm-python: a Python identity model, served to the same client with and without the
// system shared-memory extension (run.py).
import { fileURLToPath } from "node:url";
import { bind, python } from "tensorbind";

bind({ name: "py_identity", fn: python(fileURLToPath(new URL("./model.py", import.meta.url)), "identity") });
