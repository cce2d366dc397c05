#!/usr/bin/env node
// Stack traces name the TypeScript sources, which ship with the package (src/), not dist/'s output.
process.setSourceMapsEnabled(true);
const { cli } = await import("../dist/cli/main.js");

cli(process.argv.slice(2)).then((code) => process.exit(code));
