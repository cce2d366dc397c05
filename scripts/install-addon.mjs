#!/usr/bin/env node
// npm's install hook for the shared-memory addon (native/shm): use the binary prebuilt for this
// platform when it loads here, else build from source with cmake-js. Never fails the install: a
// server without the addon refuses to start Python models and says how to fix it.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const prebuilt = join(root, `native/shm/prebuilds/${process.platform}-${process.arch}/tensorbind_shm.napi.glibc.node`);
if (existsSync(prebuilt)) {
  try {
    createRequire(import.meta.url)(prebuilt);
    process.exit(0);
  } catch (err) {
    console.warn(`tensorbind: the prebuilt shared-memory addon does not load here (${err.message.split("\n")[0]}); building it`);
  }
}
const cmakeJs = createRequire(import.meta.url).resolve("cmake-js/bin/cmake-js");
const r = spawnSync(process.execPath, [cmakeJs, "compile", "-d", join(root, "native/shm")], { stdio: "inherit" });
if (r.status !== 0) {
  console.warn(
    "tensorbind: the shared-memory addon (native/shm/) did not build; Python models need it: install CMake and a C++17 compiler, then npm rebuild tensorbind",
  );
}
