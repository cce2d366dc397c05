import type { ExecutionRequest, ExecutionResult } from "../../core/backend.js";
import {
  InternalError,
  InvalidArgumentError,
  toTensorbindError,
  UnavailableError,
} from "../../core/errors.js";
import type { Tensor } from "../../core/tensor.js";
import { InputArena, OutputSegments } from "./arena.js";
import { type PlannedCall, planCalls } from "./batching.js";
import { inRegionOutputs } from "./client-regions.js";
import type {
  CallLocation,
  ConfigureMessage,
  DeclarationJson,
  OutputLocation,
  PartError,
  ResultMessage,
  SlotRef,
} from "./protocol.js";
import { describeExit, type ExitInfo, WorkerProcess, type WorkerSpawnOptions } from "./worker-process.js";

type ArrowCodec = typeof import("./arrow-codec.js");
let arrowCodec: ArrowCodec | undefined;
/** apache-arrow takes a few hundred ms to import; it loads while the first worker's interpreter starts. */
async function loadArrowCodec(): Promise<ArrowCodec> {
  arrowCodec ??= await import("./arrow-codec.js");
  return arrowCodec;
}

const BACKOFF_MS = [100, 200, 500, 1000, 2000, 5000];
const MAX_FAILED_RESTARTS = 5;
/** A worker that ran this long before dying starts the backoff over. */
const STABLE_AFTER_MS = 30_000;

/** Counts the live views of one output slot; the slot goes back to the worker at zero. */
interface SlotToken {
  readonly incarnation: number;
  readonly slot: SlotRef;
  refs: number;
}

/**
 * One instance of a Python model: a worker process, restarted with backoff when it dies, its
 * arenas, and the bookkeeping that returns output slots to the worker.
 *
 * Output slot lifetime: response tensors are views of the worker's arena and must stay intact
 * until the frontend has written them, which may be long after execute() returns (socket
 * back-pressure). Each slot is therefore released when every tensor view of it has been
 * garbage collected (a FinalizationRegistry on the views' bytes); the release rides on the next
 * message to the worker. A worker's arena grows by segments if the collector is slow.
 */
export class PythonInstance {
  readonly #opts: WorkerSpawnOptions;
  #worker: WorkerProcess | undefined;
  #ready!: Promise<WorkerProcess>;
  #resolveReady: (w: WorkerProcess) => void = () => undefined;
  #rejectReady: (e: Error) => void = () => undefined;
  #inputs = new InputArena();
  #outputs = new OutputSegments();
  #incarnation = 0;
  #failedRestarts = 0;
  #quickCrashes = 0;
  #startedAt = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  #releases: SlotRef[] = [];
  #flushScheduled = false;
  #stopped = false;
  #chain: Promise<unknown> = Promise.resolve();
  #configure: ConfigureMessage | undefined;
  readonly #registry = new FinalizationRegistry<SlotToken>((token) => this.#collected(token));

  constructor(opts: WorkerSpawnOptions) {
    this.#opts = opts;
    this.#resetReady();
  }

  /** Starts the first worker; a failure is the ConfigError that start() reports. */
  async start(): Promise<DeclarationJson | null> {
    const worker = await this.#spawn();
    return worker.declaration;
  }

  get pid(): number | undefined {
    return this.#worker?.pid;
  }

  /** Workers started after the first one died. */
  get restarts(): number {
    return Math.max(0, this.#incarnation - 1);
  }

  /** Shared memory mapped for this instance's arenas, in bytes. */
  get sharedMemoryBytes(): number {
    return this.#stopped ? 0 : this.#inputs.byteLength + this.#outputs.byteLength;
  }

  /** The model's final config; sent to every incarnation of the worker before its first batch. */
  configure(message: ConfigureMessage): void {
    this.#configure = message;
    this.#worker?.notify(message);
  }

  /** Runs one batch; batches on this instance run one after another. */
  execute(
    batch: readonly ExecutionRequest[],
    maxBatchSize: number,
    takesRequests = false,
  ): Promise<(ExecutionResult | Error)[]> {
    const run = this.#chain.then(() => this.#execute(batch, maxBatchSize, takesRequests));
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async stop(graceMs: number): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#restartTimer);
    this.#rejectReady(new UnavailableError(`model '${this.#opts.model}' is stopping`));
    await this.#worker?.stop(graceMs);
    this.#worker = undefined;
    this.#inputs.close();
    this.#outputs.clear();
  }

  async #spawn(): Promise<WorkerProcess> {
    const worker = await WorkerProcess.spawn(this.#opts);
    await Promise.all([worker.waitReady(), loadArrowCodec()]);
    if (this.#stopped) {
      await worker.stop(0);
      throw new UnavailableError(`model '${this.#opts.model}' is stopping`);
    }
    this.#incarnation++;
    this.#worker = worker;
    this.#startedAt = Date.now();
    this.#inputs.close();
    this.#inputs = new InputArena();
    this.#outputs = new OutputSegments();
    this.#releases = [];
    if (this.#configure !== undefined) worker.notify(this.#configure);
    void worker.exited.then((e) => this.#onExit(worker, e));
    this.#resolveReady(worker);
    return worker;
  }

  #resetReady(): void {
    this.#ready = new Promise<WorkerProcess>((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    this.#ready.catch(() => undefined); // waiters observe it; nobody else must
  }

  #onExit(worker: WorkerProcess, exit: ExitInfo): void {
    if (this.#stopped || worker !== this.#worker) return;
    const { log, model, instance } = this.#opts;
    this.#worker = undefined;
    this.#quickCrashes = Date.now() - this.#startedAt > STABLE_AFTER_MS ? 0 : this.#quickCrashes + 1;
    log.error(
      { model, instance, pid: worker.pid },
      `python worker ${instance} of model '${model}' ${describeExit(exit)}; restarting`,
    );
    this.#resetReady();
    void worker.stop(0); // closes its channel and socket file
    this.#scheduleRestart();
  }

  #scheduleRestart(): void {
    const step = Math.min(this.#quickCrashes + this.#failedRestarts, BACKOFF_MS.length) - 1;
    const delay = BACKOFF_MS[Math.max(0, step)]!;
    this.#restartTimer = setTimeout(() => {
      this.#spawn().then(
        () => {
          this.#failedRestarts = 0;
        },
        (err: unknown) => {
          if (this.#stopped) return;
          this.#failedRestarts++;
          const { log, model, instance } = this.#opts;
          log.error(
            { model, instance, err },
            `python worker ${instance} of model '${model}' failed to restart`,
          );
          if (this.#failedRestarts >= MAX_FAILED_RESTARTS) {
            const msg = err instanceof Error ? err.message : String(err);
            this.#rejectReady(
              new UnavailableError(
                `python worker ${instance} of model '${model}' cannot be restarted: ${msg}`,
              ),
            );
          } else {
            this.#scheduleRestart();
          }
        },
      );
    }, delay);
  }

  async #execute(
    batch: readonly ExecutionRequest[],
    maxBatchSize: number,
    takesRequests: boolean,
  ): Promise<(ExecutionResult | Error)[]> {
    if (this.#stopped) throw new UnavailableError(`model '${this.#opts.model}' is stopping`);
    const worker = await this.#ready;
    const { calls, results } = planCalls(batch, maxBatchSize, takesRequests);
    const { encodeCall } = arrowCodec!; // loaded before the first worker became ready
    if (calls.length === 0) return results as (ExecutionResult | Error)[];
    this.#inputs.reset();
    const locations: CallLocation[] = calls.map((call) => {
      const encoded = encodeCall(call.columns);
      const slot = this.#inputs.alloc(encoded.byteLength);
      encoded.writeInto(slot.bytes);
      const { segment, offset } = slot;
      return {
        segment,
        offset,
        length: encoded.byteLength,
        requested: call.requested,
        ...(call.splits !== undefined && { splits: call.splits }),
        ...(call.parameters !== undefined && { parameters: call.parameters }),
        ...(call.external !== undefined && { external: call.external }),
        ...(call.outputRegions !== undefined && { outputRegions: call.outputRegions }),
      };
    });
    const segments = this.#inputs.takeAnnouncements();
    let reply: ResultMessage;
    try {
      reply = await worker.run({ segments, calls: locations, release: this.#takeReleases() });
    } catch (err) {
      const error = toTensorbindError(err);
      for (const call of calls) for (const i of call.requests) results[i] = error;
      return results as (ExecutionResult | Error)[];
    }
    this.#inputs.confirm(segments);
    const mapped = this.#outputs.map(reply.segments);
    if (mapped.length > 0) worker.notify({ type: "mapped", names: mapped });
    calls.forEach((call, k) => {
      this.#collect(call, reply.results[k], results);
      const r = reply.results[k];
      if (r?.ok && "inRegion" in r && r.inRegion !== undefined)
        inRegionOutputs(batch[call.requests[0]!]!, r.inRegion, results, call.requests[0]!);
    });
    return results as (ExecutionResult | Error)[];
  }

  /**
   * Answers the requests of one call from the worker's result: a plain function's call holds one
   * request and one output stream; a function of requests answers each request with its own.
   */
  #collect(
    call: PlannedCall,
    result: ResultMessage["results"][number] | undefined,
    out: (ExecutionResult | Error | undefined)[],
  ): void {
    if (result === undefined || !result.ok) {
      const message = result?.error ?? "the python worker sent no result for a call";
      const err = result?.invalid ? new InvalidArgumentError(message) : new InternalError(message);
      for (const i of call.requests) out[i] = err;
      return;
    }
    const parts: readonly (OutputLocation | PartError)[] = "parts" in result ? result.parts : [result];
    const tokens = parts.map((p): SlotToken | undefined =>
      "error" in p ? undefined : { incarnation: this.#incarnation, slot: [p.segment, p.offset], refs: 0 },
    );
    try {
      if (parts.length !== call.requests.length) {
        throw new InternalError(
          `the python worker answered ${parts.length} of ${call.requests.length} requests of a call`,
        );
      }
      parts.forEach((p, j) => {
        if ("error" in p) {
          out[call.requests[j]!] = new InternalError(p.error);
          return;
        }
        const tensors = arrowCodec!.decodeCall(this.#outputs.view(p.segment, p.offset, p.length));
        const res: ExecutionResult = {};
        for (const t of tensors) {
          res[t.name] = t;
          this.#track(t, tokens[j]!);
        }
        out[call.requests[j]!] = res;
      });
    } catch (err) {
      const e = toTensorbindError(err);
      for (const i of call.requests) out[i] = e;
    }
    for (const token of tokens) if (token !== undefined && token.refs === 0) this.#release(token);
  }

  #track(tensor: Tensor, token: SlotToken): void {
    token.refs++;
    this.#registry.register(tensor.bytes, token);
  }

  #collected(token: SlotToken): void {
    if (--token.refs === 0) this.#release(token);
  }

  #release(token: SlotToken): void {
    if (token.incarnation !== this.#incarnation || this.#stopped) return; // that worker is gone
    this.#releases.push(token.slot);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => {
        this.#flushScheduled = false;
        const release = this.#takeReleases();
        if (release.length > 0) this.#worker?.notify({ type: "release", release });
      }).unref();
    }
  }

  #takeReleases(): SlotRef[] {
    const out = this.#releases;
    this.#releases = [];
    return out;
  }
}
