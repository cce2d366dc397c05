import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/**
 * tensorbind's own version, reported as the server metadata `version`.
 *
 * @example
 * console.log(`tensorbind ${VERSION}`);
 */
export const VERSION: string = (require("../../package.json") as { version: string }).version;
