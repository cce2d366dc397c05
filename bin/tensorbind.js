#!/usr/bin/env node
import module from "node:module";
import { fileURLToPath } from "node:url";

// V8's compiled code for the server's modules is kept beside them, as Python keeps __pycache__
// (<package>/.cache/node-compile-cache; NODE_COMPILE_CACHE=dir puts it elsewhere,
// NODE_DISABLE_COMPILE_CACHE=1 turns it off): later starts skip compiling them. A read-only
// install has none; nothing is written outside the package (a container's /tmp stays empty).
module.enableCompileCache?.(fileURLToPath(new URL("../.cache/node-compile-cache", import.meta.url))); // Node >= 22.1
// Stack traces name the TypeScript sources, which ship with the package (src/), not dist/'s output.
process.setSourceMapsEnabled(true);
const args = process.argv.slice(2);
if (args[0] === "serve") {
  // A Python worker's interpreter starts before the server's modules load, and loads NumPy meanwhile.
  const { startPythonHeadStart } = await import("../dist/cli/python-head-start.js");
  startPythonHeadStart(args.slice(1));
}
const { cli } = await import("../dist/cli/main.js");

cli(args).then((code) => process.exit(code));
