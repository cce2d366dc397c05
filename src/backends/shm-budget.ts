import { SharedMemoryExhaustedError } from "../core/errors.js";

/**
 * The server-wide cap on shared memory (`serve({ shmLimit })`, `--shm-limit`): every arena
 * reserves here before it creates a segment and gives back when it drops one.
 */
class SharedMemoryBudget {
  #limit = Number.POSITIVE_INFINITY;
  #used = 0;

  get limit(): number {
    return this.#limit;
  }
  get used(): number {
    return this.#used;
  }

  /** Bytes; Infinity (the default) for no cap. */
  setLimit(bytes: number): void {
    this.#limit = bytes;
  }

  /** Whether `bytes` more fit under the cap. */
  fits(bytes: number): boolean {
    return this.#used + bytes <= this.#limit;
  }

  reserve(bytes: number, what: string): void {
    if (!this.fits(bytes)) {
      throw new SharedMemoryExhaustedError(
        `no shared memory for ${what}: ${formatBytes(bytes)} more would exceed the server's limit of ${formatBytes(this.#limit)} (--shm-limit; ${formatBytes(this.#used)} in use)`,
      );
    }
    this.#used += bytes;
  }

  /** Counts memory that exists already (a worker's output segment the server mapped). */
  add(bytes: number): void {
    this.#used += bytes;
  }

  give(bytes: number): void {
    this.#used = Math.max(0, this.#used - bytes);
  }
}

export const sharedMemoryBudget = new SharedMemoryBudget();

export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return "unlimited";
  if (n >= 1 << 30 && n % (1 << 20) === 0)
    return `${(n / (1 << 30)).toFixed(n % (1 << 30) === 0 ? 0 : 1)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(n % (1 << 20) === 0 ? 0 : 1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(n % (1 << 10) === 0 ? 0 : 1)} KiB`;
  return `${n} bytes`;
}
