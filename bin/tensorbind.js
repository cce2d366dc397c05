#!/usr/bin/env node
import { statSync } from "node:fs";
import module from "node:module";
import { tmpdir } from "node:os";

// V8's compiled code for the server's modules is kept on disk (os.tmpdir()/node-compile-cache, or
// NODE_COMPILE_CACHE; NODE_DISABLE_COMPILE_CACHE=1 turns it off): later starts skip compiling them.
// Only where the temp folder exists: Node's mkdir -p under a missing /proc entry never returns.
if (statSync(tmpdir(), { throwIfNoEntry: false })?.isDirectory()) module.enableCompileCache?.(); // Node >= 22.1
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
