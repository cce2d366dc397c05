/** The shared-memory addon moved to src/backends/shm-addon.ts (every backend uses it). */
export { type ShmAddon, type ShmError, shm } from "../shm-addon.js";
