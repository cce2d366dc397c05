import { readdirSync, readFileSync, rmSync, statfsSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../core/logger.js";
import { formatBytes, sharedMemoryBudget } from "./shm-budget.js";
import { sweepDeadServers } from "./shm-names.js";

/** What a server does about shared memory before its models load. */
export interface SharedMemoryStart {
  /** Server-wide cap in bytes (Infinity: none). */
  readonly limitBytes: number;
  /** Python models to serve: they need /dev/shm. */
  readonly pythonModels: number;
  /** The largest request body: one in and its answer out must fit. */
  readonly maxBodyBytes: number;
  readonly log: Logger;
  /** For tests: where POSIX shared memory lives. */
  readonly shmDir?: string;
}

const OWNER_FILE = "server.pid";
const RUNTIME_PREFIX = "tensorbind-";

/**
 * Sets the server-wide cap, removes what killed servers left (segments and runtime dirs), and
 * warns when /dev/shm is too small for the Python models: Docker gives containers 64 MiB, and a
 * full tmpfs fails requests (503 / RESOURCE_EXHAUSTED) instead of serving them.
 */
export function prepareSharedMemory(o: SharedMemoryStart): void {
  sharedMemoryBudget.setLimit(o.limitBytes);
  const swept = sweepDeadServers();
  if (swept > 0)
    o.log.info({ segments: swept }, `removed ${swept} shared-memory segment(s) left by killed servers`);
  if (o.pythonModels === 0) return;
  const dir = o.shmDir ?? "/dev/shm";
  let free: number;
  let size: number;
  try {
    const s = statfsSync(dir);
    free = s.bavail * s.bsize;
    size = s.blocks * s.bsize;
  } catch {
    return; // no /dev/shm (macOS): shm_open has its own store
  }
  // One largest request in and its answer out, plus the idle segment of each model's arena.
  const need = Math.min(o.limitBytes, 2 * o.maxBodyBytes + o.pythonModels * (2 << 20));
  const fix =
    "give the server a larger /dev/shm (docker run --shm-size=1g; Kubernetes: an emptyDir with medium: Memory and a sizeLimit mounted at /dev/shm)";
  if (free < need) {
    o.log.warn(
      { shmFree: free, shmSize: size, needed: need },
      `/dev/shm has ${formatBytes(free)} free of ${formatBytes(size)}: too small for the Python models' largest requests (${formatBytes(need)}: 2 x --max-body-bytes); requests that do not fit get 503. ${fix}, or lower --max-body-bytes / set --shm-limit`,
    );
  } else if (Number.isFinite(o.limitBytes) && o.limitBytes > free) {
    o.log.warn(
      { shmFree: free, shmLimit: o.limitBytes },
      `--shm-limit ${formatBytes(o.limitBytes)} is more than /dev/shm has free (${formatBytes(free)}): requests may get 503 below the limit; ${fix}`,
    );
  }
}

/** Marks a runtime dir as this server's, so a later start can tell when it was left behind. */
export function claimRuntimeDir(dir: string): void {
  writeFileSync(join(dir, OWNER_FILE), String(process.pid), { mode: 0o600 });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Removes runtime dirs under `tmp` whose server (same user) is dead; returns how many. */
export function removeStaleRuntimeDirs(tmp: string): number {
  let names: string[];
  try {
    names = readdirSync(tmp).filter((n) => n.startsWith(RUNTIME_PREFIX));
  } catch {
    return 0;
  }
  const uid = process.getuid?.();
  let n = 0;
  for (const name of names) {
    const dir = join(tmp, name);
    try {
      if (uid !== undefined && statSync(dir).uid !== uid) continue;
      const pid = Number(readFileSync(join(dir, OWNER_FILE), "utf8"));
      if (!Number.isSafeInteger(pid) || pid <= 0 || alive(pid)) continue;
      rmSync(dir, { recursive: true, force: true });
      n++;
    } catch {
      // not a dir of ours, no owner file (another version), or raced with its owner
    }
  }
  return n;
}
