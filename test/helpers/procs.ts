import { readdirSync, readFileSync } from "node:fs";

/** The [pid, ppid, state] of every process in /proc (Linux). */
function processTable(): [number, number, string][] {
  const rows: [number, number, string][] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      // The command name may hold spaces and parentheses: the fields start after the last ')'.
      const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      rows.push([Number(name), Number(ppid), state ?? "?"]);
    } catch {
      // the process exited while we looked
    }
  }
  return rows;
}

/** Every live descendant of `pid` (children, grandchildren, …). */
export function descendants(pid: number): number[] {
  const table = processTable();
  const out: number[] = [];
  const walk = (parent: number) => {
    for (const [p, pp] of table) {
      if (pp === parent && !out.includes(p)) {
        out.push(p);
        walk(p);
      }
    }
  };
  walk(pid);
  return out;
}

/** Whether `pid` runs and is not a zombie (an orphaned zombie is dead, if not yet reaped). */
export function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** The /dev/shm names that the processes have mapped (unlinked ones still show, as "(deleted)"). */
export function mappedShm(pids: readonly number[]): string[] {
  const names = new Set<string>();
  for (const pid of pids) {
    try {
      for (const m of readFileSync(`/proc/${pid}/maps`, "utf8").matchAll(/\/dev\/shm\/(\S+)/g)) {
        if (m[1] !== undefined) names.add(m[1]);
      }
    } catch {
      // exited
    }
  }
  return [...names];
}

/** Polls `done` every 50 ms until it holds or `ms` pass; returns whether it held. */
export async function waitUntil(done: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}
