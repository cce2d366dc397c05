import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Writes an executable fake `nvidia-smi` (an edge we do not own) into `dir` and returns its
 * path. `lines` are the shell script's lines: `echo` the CSV rows of
 * `--query-gpu=index,uuid,name,utilization.gpu,memory.total,memory.used,power.draw,power.limit`
 * to stand in for GPUs, or fail like a broken driver.
 *
 * @example
 * fakeNvidiaSmi(dir, [`echo "0, GPU-0000aaaa-1111, NVIDIA H100, 5, 81559, 10, 70.0, 700.0"`])
 */
export function fakeNvidiaSmi(dir: string, lines: readonly string[]): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, "nvidia-smi");
  writeFileSync(path, `#!/bin/sh\n${lines.join("\n")}\n`);
  chmodSync(path, 0o755);
  return path;
}
