import { randomBytes } from "node:crypto";
import { readdirSync, readlinkSync, statSync, unlinkSync } from "node:fs";

/**
 * Every shared-memory segment this server or its workers create is named
 * `/tb-<server pid>-n<pid namespace>.<arena id>-<32 random hex digits>`: the random part keeps
 * names unguessable, the prefix lets a survivor remove what a dead process left — the server
 * sweeps a dead worker's arena prefix, workers sweep their dead server's, and a starting server
 * sweeps those of dead servers of the same user in the same pid namespace (a container sharing
 * /dev/shm with the host cannot see the host's processes, so it leaves their names alone).
 */
const SHM_DIR = "/dev/shm";

/** The inode of this process's pid namespace ("0" where /proc does not say). */
export const PID_NAMESPACE = (() => {
  try {
    return /\[(\d+)\]/.exec(readlinkSync("/proc/self/ns/pid"))?.[1] ?? "0";
  } catch {
    return "0";
  }
})();

export function serverPrefix(pid = process.pid): string {
  return `/tb-${pid}-n${PID_NAMESPACE}.`;
}

/** A fresh arena prefix: `/tb-<pid>-n<namespace>.<12 hex>-`. */
export function arenaPrefix(): string {
  return `${serverPrefix()}${randomBytes(6).toString("hex")}-`;
}

/** Unlinks every segment whose name starts with `prefix`; returns how many. Linux only (a no-op elsewhere). */
export function sweepSegments(prefix: string): number {
  const start = prefix.replace(/^\//, "");
  let names: string[];
  try {
    names = readdirSync(SHM_DIR);
  } catch {
    return 0;
  }
  let n = 0;
  for (const name of names) {
    if (!name.startsWith(start)) continue;
    try {
      unlinkSync(`${SHM_DIR}/${name}`);
      n++;
    } catch {
      // gone already, or not ours
    }
  }
  return n;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Unlinks segments left by dead tensorbind servers of this user (SIGKILL, OOM kill); returns the count. */
export function sweepDeadServers(): number {
  let names: string[];
  try {
    names = readdirSync(SHM_DIR);
  } catch {
    return 0;
  }
  const uid = process.getuid?.();
  let n = 0;
  for (const name of names) {
    const m = /^tb-(\d+)-n(\d+)\./.exec(name);
    if (m === null || m[2] !== PID_NAMESPACE || alive(Number(m[1]))) continue;
    try {
      if (uid !== undefined && statSync(`${SHM_DIR}/${name}`).uid !== uid) continue;
      unlinkSync(`${SHM_DIR}/${name}`);
      n++;
    } catch {
      // raced with another sweeper
    }
  }
  return n;
}
