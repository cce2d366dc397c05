/**
 * The free instances of a model. Instances are taken in turn (a FIFO), except that when they sit
 * on several GPUs the next one comes from the GPU with the fewest busy instances, so that work
 * spreads over the GPUs before it doubles up on one (Triton's instance groups behave alike).
 */
export class InstancePool {
  readonly #free: number[];
  /** Device of each instance (-1: CPU); undefined when all share one device. */
  readonly #device: readonly number[] | undefined;
  readonly #busyOn = new Map<number, number>();

  constructor(count: number, devices?: readonly number[]) {
    this.#free = Array.from({ length: Math.max(1, count) }, (_, i) => i);
    const spread = devices !== undefined && devices.length === this.#free.length && new Set(devices).size > 1;
    this.#device = spread ? devices : undefined;
  }

  get freeCount(): number {
    return this.#free.length;
  }

  /** Takes a free instance; call only while `freeCount > 0`. */
  take(): number {
    const device = this.#device;
    if (device === undefined) return this.#free.shift()!;
    let best = 0;
    let bestBusy = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.#free.length; i++) {
      const busy = this.#busyOn.get(device[this.#free[i]!]!) ?? 0;
      if (busy < bestBusy) [best, bestBusy] = [i, busy];
    }
    const instance = this.#free.splice(best, 1)[0]!;
    const d = device[instance]!;
    this.#busyOn.set(d, (this.#busyOn.get(d) ?? 0) + 1);
    return instance;
  }

  /** Gives an instance back once its execution has finished. */
  give(instance: number): void {
    if (this.#device !== undefined) {
      const d = this.#device[instance]!;
      this.#busyOn.set(d, (this.#busyOn.get(d) ?? 1) - 1);
    }
    this.#free.push(instance);
  }
}
