import { readFileSync } from "node:fs";
import { cpus, freemem, totalmem } from "node:os";

/** CPU time counters, summed over all cores (any unit, only ratios matter). */
interface CpuTimes {
  readonly busy: number;
  readonly total: number;
}

/** The system's CPU times: /proc/stat on Linux (as Triton reads them), os.cpus() elsewhere. */
function readCpuTimes(): CpuTimes {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
    // cpu user nice system idle iowait irq softirq steal guest guest_nice; guests are inside user/nice.
    const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
    if (f.length >= 4 && f.every(Number.isFinite)) {
      const idle = (f[3] ?? 0) + (f[4] ?? 0);
      const total = f.reduce((a, b) => a + b, 0);
      return { busy: total - idle, total };
    }
  } catch {
    // not Linux: fall through
  }
  let busy = 0;
  let total = 0;
  for (const c of cpus()) {
    const t = c.times;
    const all = t.user + t.nice + t.sys + t.idle + t.irq;
    total += all;
    busy += all - t.idle;
  }
  return { busy, total };
}

/** RAM in bytes: used = total - available (/proc/meminfo's MemAvailable, as Triton computes it). */
function readMemory(): { total: number; used: number } {
  try {
    const text = readFileSync("/proc/meminfo", "utf8");
    const kib = (key: string) => {
      const m = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text);
      return m ? Number(m[1]) * 1024 : undefined;
    };
    const total = kib("MemTotal");
    const available = kib("MemAvailable");
    if (total !== undefined && available !== undefined) return { total, used: total - available };
  } catch {
    // not Linux
  }
  return { total: totalmem(), used: totalmem() - freemem() };
}

/** What the CPU sampler last saw. */
export interface CpuSample {
  /** Busy share of all cores since the previous sample, 0..1. */
  readonly utilization: number;
  readonly memoryTotalBytes: number;
  readonly memoryUsedBytes: number;
}

/**
 * Samples the system's CPU utilisation and memory on the metrics interval, for Triton's CPU
 * gauges: utilisation is the busy share of all cores over the last interval, as in Triton.
 */
export class CpuSampler {
  #last: CpuTimes = readCpuTimes();
  #sample: CpuSample;

  constructor() {
    const mem = readMemory();
    this.#sample = { utilization: 0, memoryTotalBytes: mem.total, memoryUsedBytes: mem.used };
  }

  get sample(): CpuSample {
    return this.#sample;
  }

  /** Takes a sample (called on the metrics interval). */
  poll(): void {
    const now = readCpuTimes();
    const dTotal = now.total - this.#last.total;
    const dBusy = now.busy - this.#last.busy;
    this.#last = now;
    const mem = readMemory();
    this.#sample = {
      utilization: dTotal > 0 ? Math.min(1, Math.max(0, dBusy / dTotal)) : this.#sample.utilization,
      memoryTotalBytes: mem.total,
      memoryUsedBytes: mem.used,
    };
  }
}
