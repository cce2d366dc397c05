import type { QueuePolicy, SchedulingConfig } from "../core/scheduling.js";

/** What the queue needs of an entry. */
export interface QueueEntry {
  /** Priority level index (0 = highest). */
  readonly level: number;
  /** Set once its timeout passed under the DELAY action: it runs after the level's other requests. */
  delayed: boolean;
}

interface Level<T> {
  readonly policy: QueuePolicy;
  readonly main: T[];
  readonly delayed: T[];
}

/**
 * Triton's priority queue: one FIFO per priority level (level 1 first), each with its own
 * policy and a second FIFO for requests whose timeout passed under the DELAY action, served
 * after the level's others.
 */
export class RequestQueue<T extends QueueEntry> {
  readonly #levels: Level<T>[];
  readonly #defaultLevel: number;
  #size = 0;

  constructor(config: SchedulingConfig) {
    const n = Math.max(1, config.priorityLevels);
    this.#levels = Array.from({ length: n }, (_, i) => ({
      policy: config.priorityQueuePolicy.get(i + 1) ?? config.defaultQueuePolicy,
      main: [],
      delayed: [],
    }));
    this.#defaultLevel = config.priorityLevels === 0 ? 0 : config.defaultPriorityLevel - 1;
  }

  get size(): number {
    return this.#size;
  }

  /**
   * The level index of a request's `priority` parameter. As in Triton, 0 and values above the
   * number of levels mean the default level.
   */
  levelOf(priority: number | bigint | undefined): number {
    if (this.#levels.length === 1 || priority === undefined) return this.#defaultLevel;
    const p = typeof priority === "bigint" ? priority : BigInt(Math.trunc(priority));
    if (p < 1n || p > BigInt(this.#levels.length)) return this.#defaultLevel;
    return Number(p) - 1;
  }

  policyOf(level: number): QueuePolicy {
    return this.#levels[level]!.policy;
  }

  /** Requests waiting at a level (the bound `max_queue_size` applies per level, as in Triton). */
  depth(level: number): number {
    const l = this.#levels[level]!;
    return l.main.length + l.delayed.length;
  }

  push(entry: T): void {
    this.#levels[entry.level]!.main.push(entry);
    this.#size++;
  }

  remove(entry: T): boolean {
    const l = this.#levels[entry.level]!;
    const list = entry.delayed ? l.delayed : l.main;
    const i = list.indexOf(entry);
    if (i < 0) return false;
    list.splice(i, 1);
    this.#size--;
    return true;
  }

  /** Moves a timed-out entry behind the level's punctual ones (the DELAY action). */
  delay(entry: T): void {
    if (entry.delayed || !this.remove(entry)) return;
    entry.delayed = true;
    this.#levels[entry.level]!.delayed.push(entry);
    this.#size++;
  }

  /** Removes and returns every entry. */
  clear(): T[] {
    const all = [...this];
    for (const l of this.#levels) {
      l.main.length = 0;
      l.delayed.length = 0;
    }
    this.#size = 0;
    return all;
  }

  /** Entries in scheduling order: level by level, punctual before delayed, oldest first. */
  *[Symbol.iterator](): Iterator<T> {
    for (const l of this.#levels) {
      yield* l.main;
      yield* l.delayed;
    }
  }
}
