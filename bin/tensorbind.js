#!/usr/bin/env node
import module from "node:module";

// V8's compiled code for the server's modules is kept on disk (os.tmpdir()/node-compile-cache, or
// NODE_COMPILE_CACHE; NODE_DISABLE_COMPILE_CACHE=1 turns it off): later starts skip compiling them.
module.enableCompileCache?.(); // Node >= 22.1
// Stack traces name the TypeScript sources, which ship with the package (src/), not dist/'s output.
process.setSourceMapsEnabled(true);
const { cli } = await import("../dist/cli/main.js");

cli(process.argv.slice(2)).then((code) => process.exit(code));
