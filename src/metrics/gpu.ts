import { type ChildProcess, execFile } from "node:child_process";
import type { Logger } from "../core/logger.js";

/** One GPU as nvidia-smi reports it; a field the GPU does not support is undefined. */
export interface GpuSample {
  readonly uuid: string;
  readonly index: number;
  readonly name: string;
  /** 0..1 */
  readonly utilization: number | undefined;
  readonly memoryTotalBytes: number | undefined;
  readonly memoryUsedBytes: number | undefined;
  readonly powerWatts: number | undefined;
  readonly powerLimitWatts: number | undefined;
}

/** The fields asked of nvidia-smi, in this order (`--format=csv,noheader,nounits`). */
export const NVIDIA_SMI_FIELDS = [
  "index",
  "uuid",
  "name",
  "utilization.gpu",
  "memory.total",
  "memory.used",
  "power.draw",
  "power.limit",
] as const;

export const NVIDIA_SMI_ARGS = [
  `--query-gpu=${NVIDIA_SMI_FIELDS.join(",")}`,
  "--format=csv,noheader,nounits",
];

const MIB = 1024 * 1024;

/** A number, or undefined for nvidia-smi's "[N/A]", "[Not Supported]" and the like. */
function num(field: string | undefined): number | undefined {
  if (field === undefined) return undefined;
  const t = field.trim();
  if (t === "" || t.startsWith("[") || !/^-?\d+(\.\d+)?$/.test(t)) return undefined;
  return Number(t);
}

/**
 * Parses nvidia-smi's CSV answer to NVIDIA_SMI_ARGS. Lines that do not hold a GPU (warnings,
 * malformed rows) are skipped.
 *
 * @example
 * parseNvidiaSmiCsv("0, GPU-5a1e…, NVIDIA H100 80GB HBM3, 37, 81559, 1024, 71.5, 700.00\n");
 */
export function parseNvidiaSmiCsv(text: string): GpuSample[] {
  const out: GpuSample[] = [];
  for (const line of text.split(/\r?\n/)) {
    const f = line.split(",").map((s) => s.trim());
    if (f.length !== NVIDIA_SMI_FIELDS.length) continue;
    const [index, uuid, name, util, memTotal, memUsed, power, powerLimit] = f;
    const idx = num(index);
    if (idx === undefined || uuid === undefined || !/^[\w-]+$/.test(uuid)) continue;
    const u = num(util);
    const total = num(memTotal);
    const used = num(memUsed);
    out.push({
      uuid,
      index: idx,
      name: name ?? "",
      utilization: u === undefined ? undefined : Math.min(1, Math.max(0, u / 100)),
      memoryTotalBytes: total === undefined ? undefined : total * MIB,
      memoryUsedBytes: used === undefined ? undefined : used * MIB,
      powerWatts: num(power),
      powerLimitWatts: num(powerLimit),
    });
  }
  return out;
}

/**
 * The GPUs CUDA lets this process use, as CUDA_VISIBLE_DEVICES says (indices, or UUIDs and
 * their unique prefixes; CUDA stops at the first entry it cannot match). Triton reports only
 * those, so a server given two GPUs of eight exports two. Unset: all; empty: none. MIG entries
 * name slices nvidia-smi's GPU list does not hold, so with one the list is left whole.
 */
export function visibleGpus(
  samples: readonly GpuSample[],
  cudaVisibleDevices: string | undefined,
): GpuSample[] {
  if (cudaVisibleDevices === undefined) return [...samples];
  const entries = cudaVisibleDevices.split(",").map((e) => e.trim());
  if (entries.some((e) => e.startsWith("MIG-"))) return [...samples];
  const out: GpuSample[] = [];
  for (const e of entries) {
    const found = /^\d+$/.test(e)
      ? samples.find((g) => g.index === Number(e))
      : e === ""
        ? undefined
        : samples.find((g) => g.uuid.startsWith(e.startsWith("GPU-") ? e : `GPU-${e}`));
    if (found === undefined || out.includes(found)) break;
    out.push(found);
  }
  return out;
}

/** After this many failed polls in a row, GPU metrics stop (Triton gives up after three as well). */
const MAX_FAILURES = 3;

export interface GpuPollerOptions {
  /** The nvidia-smi executable: a name looked up on PATH, or a path. */
  readonly command: string;
  readonly log: Logger;
  /** A poll that takes longer is killed and counts as a failure. */
  readonly timeoutMs: number;
  /** CUDA_VISIBLE_DEVICES of the server: only these GPUs are reported (default: the process's). */
  readonly cudaVisibleDevices?: string | undefined;
}

/**
 * Polls nvidia-smi on the metrics interval for Triton's GPU gauges. No nvidia-smi, or one that
 * finds no GPU, means no GPU series at all, never an error; a failed poll drops the samples
 * rather than leave stale values.
 */
export class GpuPoller {
  readonly #opts: GpuPollerOptions;
  #samples: GpuSample[] = [];
  #failures = 0;
  #everSucceeded = false;
  #disabled = false;
  #child: ChildProcess | undefined;
  #stopped = false;

  constructor(opts: GpuPollerOptions) {
    this.#opts = opts;
  }

  /** The GPUs of the last successful poll. */
  get gpus(): readonly GpuSample[] {
    return this.#samples;
  }

  /** False once polling has given up (no nvidia-smi, or it failed repeatedly). */
  get active(): boolean {
    return !this.#disabled && !this.#stopped;
  }

  /** Runs nvidia-smi once; never rejects. A poll still running is not doubled. */
  poll(): Promise<void> {
    if (!this.active || this.#child !== undefined) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const child = execFile(
        this.#opts.command,
        NVIDIA_SMI_ARGS,
        { timeout: this.#opts.timeoutMs, killSignal: "SIGKILL", maxBuffer: 1 << 20, windowsHide: true },
        (err, stdout) => {
          this.#child = undefined;
          if (this.#stopped) return resolve();
          if (err) this.#failed(err as NodeJS.ErrnoException & { killed?: boolean });
          else {
            const visible =
              "cudaVisibleDevices" in this.#opts
                ? this.#opts.cudaVisibleDevices
                : process.env.CUDA_VISIBLE_DEVICES;
            this.#succeeded(visibleGpus(parseNvidiaSmiCsv(stdout), visible));
          }
          resolve();
        },
      );
      this.#child = child;
    });
  }

  /** Stops polling and kills a poll in flight. */
  stop(): void {
    this.#stopped = true;
    this.#child?.kill("SIGKILL");
    this.#child = undefined;
    this.#samples = [];
  }

  #succeeded(samples: GpuSample[]): void {
    if (samples.length === 0) {
      this.#failed(new Error("nvidia-smi listed no GPU"));
      return;
    }
    if (!this.#everSucceeded) {
      this.#opts.log.info(
        { gpus: samples.map((g) => `${g.index}: ${g.name} (${g.uuid})`) },
        "GPU metrics: collecting from nvidia-smi",
      );
    }
    this.#everSucceeded = true;
    this.#failures = 0;
    this.#samples = samples;
  }

  #failed(err: NodeJS.ErrnoException & { killed?: boolean }): void {
    this.#samples = [];
    const { log, command } = this.#opts;
    if (err.code === "ENOENT" || err.code === "EACCES") {
      // No nvidia-smi: a machine without NVIDIA GPUs. Not worth more than a debug line.
      this.#disabled = true;
      log.debug({ command }, "GPU metrics off: nvidia-smi not found");
      return;
    }
    this.#failures++;
    if (this.#failures >= MAX_FAILURES) {
      this.#disabled = true;
      const level = this.#everSucceeded ? "warn" : "debug";
      log[level](
        { command, err: err.message.split("\n", 1)[0] },
        "GPU metrics off: nvidia-smi keeps failing",
      );
    }
  }
}
