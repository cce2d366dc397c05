// Over 400 lines on purpose: one worker's whole life (start, calls, restarts, shared-memory
// slots it holds, stop) is one state machine; the process and protocol parts live beside it.

import type { BackendStartContext, ExecutionRequest, ExecutionResult } from "../../core/backend.js";
import {
  InternalError,
  InvalidArgumentError,
  SharedMemoryExhaustedError,
  toTensorbindError,
  UnavailableError,
} from "../../core/errors.js";
import type { InferRequest, InferResponse, StreamResponse } from "../../core/infer.js";
import { takeRelease } from "../../core/release.js";
import { sharedMemoryBudget } from "../shm-budget.js";
import { arenaPrefix, sweepSegments } from "../shm-names.js";
import { OutputSegments, onSharedOutputDropped, type SharedArena, sharedOutputName } from "./arena.js";
import { type ColumnInput, type PlannedCall, planBatches, splitByBatch } from "./batching.js";
import { inRegionOutputs } from "./client-regions.js";
import { OutputSlots, pinOutputView } from "./output-slots.js";
import type {
  BlsMessage,
  CallLocation,
  ConfigureMessage,
  DeclarationJson,
  InputLocation,
  OutputSet,
  PartError,
  ResponsesMessage,
  ResultMessage,
  SlotRef,
} from "./protocol.js";
import { ResponseStreams } from "./response-streams.js";
import { CRASH_LOOP_AFTER, type RestartPolicy, STABLE_AFTER_MS } from "./restart-policy.js";
import { SlotReleases } from "./slot-releases.js";
import { describeExit, type ExitInfo, WorkerProcess, type WorkerSpawnOptions } from "./worker-process.js";

const MAX_FAILED_RESTARTS = 5;
/** TENSORBIND_IN_PLACE=0: every input from another worker's output is copied (for comparison). */
const TENSORBIND_IN_PLACE_OFF = process.env.TENSORBIND_IN_PLACE === "0";

export type InstanceOptions = Omit<WorkerSpawnOptions, "shmPrefix" | "onDropped" | "onBls"> & {
  /** The model's input arena, shared by all its instances. */
  readonly arena: SharedArena;
  /** When the model's workers restart, shared by all its instances. */
  readonly restarts: RestartPolicy;
  /** The server's request path, for the model's calls to other models (BLS). */
  readonly infer?: ((request: InferRequest) => Promise<InferResponse>) | undefined;
  /** Its streaming form, for `exec(decoupled=True)`. */
  readonly inferStream?: BackendStartContext["inferStream"];
  /** A worker process was spawned (it now starts its interpreter). */
  readonly onSpawned?: () => void;
};

/**
 * One instance of a Python model: a worker process, restarted with backoff when it dies, the
 * worker's output segments, and the bookkeeping that returns output slots to it (output-slots.ts).
 * Inputs sit in the model's shared arena: a request body the socket wrote into a slot is passed
 * where it lies; other inputs are copied into a slot for the call and freed with its reply.
 */
export class PythonInstance {
  readonly #opts: InstanceOptions;
  #worker: WorkerProcess | undefined;
  #ready!: Promise<WorkerProcess>;
  #resolveReady: (w: WorkerProcess) => void = () => undefined;
  #rejectReady: (e: Error) => void = () => undefined;
  #outputs = new OutputSegments();
  /** Arena segments this incarnation has mapped. */
  #mapped = new Set<number>();
  /**
   * Other workers' output segments this incarnation has mapped by name (inputs read in place),
   * each with the way to stop listening for its drop.
   */
  #sharedMapped = new Map<string, () => void>();
  #shmPrefix = "";
  #incarnation = 0;
  #failedRestarts = 0;
  #quickCrashes = 0;
  #startedAt = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  readonly #releases = new SlotReleases((release) => this.#worker?.notify({ type: "release", release }));
  #stopped = false;
  #chain: Promise<unknown> = Promise.resolve();
  #configure: ConfigureMessage | undefined;
  #held: { release(): void }[] | undefined;
  readonly #slots = new OutputSlots(
    () => this.#outputs,
    (incarnation, slot) => this.#release(incarnation, slot),
  );
  /** A decoupled model's requests waiting for their final response. */
  readonly #streams = new ResponseStreams(this.#slots);

  constructor(opts: InstanceOptions) {
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

  /** Shared memory of this worker's output arena, in bytes. */
  get sharedMemoryBytes(): number {
    return this.#stopped ? 0 : this.#outputs.byteLength;
  }

  /** The model's arena dropped a segment: this worker unmaps it too. */
  inputSegmentDropped(id: number): void {
    if (this.#mapped.delete(id)) this.#worker?.notify({ type: "unmap", segments: [id] });
  }

  /** The model's final config; sent to every incarnation of the worker before its first batch. */
  configure(message: ConfigureMessage): void {
    this.#configure = message;
    this.#worker?.notify(message);
  }

  /** Clients' regions the server unmapped: the worker drops its mappings of them. */
  forget(keys: readonly string[]): void {
    this.#worker?.notify({ type: "forget", keys });
  }

  /** Runs one batch; batches on this instance run one after another. */
  execute(
    batch: readonly ExecutionRequest[],
    maxBatchSize: number,
    takesRequests = false,
  ): Promise<(ExecutionResult | Error)[]> {
    const run = this.#chain.then(() => this.#execute([batch], maxBatchSize, takesRequests));
    this.#chain = run.catch(() => undefined);
    return run.then((results) => results[0]!);
  }

  /** Several batches in one message to the worker, which calls the model once per batch, in order. */
  executeMany(
    batches: readonly (readonly ExecutionRequest[])[],
    maxBatchSize: number,
    takesRequests = false,
  ): Promise<(ExecutionResult | Error)[][]> {
    const run = this.#chain.then(() => this.#execute(batches, maxBatchSize, takesRequests));
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async stop(graceMs: number): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#restartTimer);
    this.#opts.restarts.stopped(this.#opts.instance);
    this.#rejectReady(new UnavailableError(`model '${this.#opts.model}' is stopping`));
    this.#streams.failAll(new UnavailableError(`model '${this.#opts.model}' is stopping`));
    await this.#worker?.stop(graceMs);
    this.#worker = undefined;
    this.#forgetShared();
    this.#outputs.clear();
    if (this.#shmPrefix !== "") sweepSegments(this.#shmPrefix);
  }

  async #spawn(): Promise<WorkerProcess> {
    const shmPrefix = arenaPrefix();
    const { arena: _arena, infer: _infer, inferStream: _inferStream, onSpawned, ...spawn } = this.#opts;
    const worker = await WorkerProcess.spawn({
      ...spawn,
      // The worker's outputs: the model's cap, else what the server-wide cap allows at most.
      shmLimitBytes: Math.min(spawn.shmLimitBytes, sharedMemoryBudget.limit),
      shmPrefix,
      onDropped: (ids) => {
        if (this.#worker === worker) this.#outputs.unmap(ids);
      },
      onBls: (message) => void this.#bls(worker, message),
      onResponses: (message) => this.#responses(worker, message),
    });
    onSpawned?.();
    try {
      await worker.waitReady();
    } catch (err) {
      sweepSegments(shmPrefix); // a worker that failed to start leaves nothing either
      throw err;
    }
    if (this.#stopped) {
      await worker.stop(0);
      throw new UnavailableError(`model '${this.#opts.model}' is stopping`);
    }
    this.#incarnation++;
    this.#worker = worker;
    this.#startedAt = Date.now();
    this.#shmPrefix = shmPrefix;
    this.#mapped = new Set();
    this.#forgetShared();
    this.#outputs.clear(); // the previous incarnation's segments leave the server-wide count
    this.#outputs = new OutputSegments();
    this.#releases.clear();
    if (this.#configure !== undefined) worker.notify(this.#configure);
    void worker.exited.then((e) => this.#onExit(worker, e));
    this.#opts.restarts.started(this.#opts.instance);
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
    const stable = Date.now() - this.#startedAt > STABLE_AFTER_MS;
    this.#quickCrashes = stable ? 0 : this.#quickCrashes + 1;
    log.error(
      { model, instance, pid: worker.pid, quickCrashes: this.#quickCrashes },
      `python worker ${instance} of model '${model}' ${describeExit(exit)}; restarting`,
    );
    if (this.#quickCrashes === CRASH_LOOP_AFTER)
      log.error(
        { model, instance, quickCrashes: this.#quickCrashes },
        `python worker ${instance} of model '${model}' is in a crash loop: it keeps dying within ${STABLE_AFTER_MS / 1000} s of starting`,
      );
    this.#resetReady();
    this.#streams.failAll(
      new InternalError(`python worker ${instance} of model '${model}' ${describeExit(exit)}`),
      this.#incarnation,
    );
    // What the killed worker created and the server had not mapped and unlinked yet.
    sweepSegments(this.#shmPrefix);
    void worker.stop(0); // closes its channel and socket file
    this.#scheduleRestart();
  }

  #scheduleRestart(): void {
    const delay = this.#opts.restarts.died(this.#opts.instance, this.#quickCrashes + this.#failedRestarts);
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

  /** The server's number of the GPU a torch worker computes on (undefined: not a torch GPU worker). */
  #cudaGpu(): number | undefined {
    const { framework, device, gpu } = this.#opts;
    if (framework !== "torch" || !device.startsWith("cuda")) return undefined;
    return gpu >= 0 ? gpu : Number(/^cuda:(\d+)$/.exec(device)?.[1] ?? 0);
  }

  /** Each batch's results. The batches' calls go in one message: one round trip for all. */
  async #execute(
    batches: readonly (readonly ExecutionRequest[])[],
    maxBatchSize: number,
    takesRequests: boolean,
  ): Promise<(ExecutionResult | Error)[][]> {
    if (this.#stopped) throw new UnavailableError(`model '${this.#opts.model}' is stopping`);
    // A running worker without a microtask turn; a restarting one is waited for.
    const worker = this.#worker ?? (await this.#ready);
    const batch = batches.length === 1 ? batches[0]! : batches.flat();
    const { calls, results } = planBatches(batches, maxBatchSize, takesRequests, this.#cudaGpu());
    const split = (all: (ExecutionResult | Error)[]) => splitByBatch(all, batches);
    if (calls.length === 0) return split(results as (ExecutionResult | Error)[]);
    const held: { release(): void }[] = []; // slots this batch reads: copies, and request bodies
    this.#held = held; // BLS answers sent during this batch are held with it
    try {
      const cancel = (id: number) => this.#worker?.notify({ type: "cancel", streams: [id] });
      const streams = calls.map((call) =>
        this.#streams.openFor(batch, call.requests, this.#incarnation, cancel),
      );
      let locations: CallLocation[];
      try {
        locations = calls.map((call, k) => ({
          inputs: call.columns.map((col) => this.#place(col, held, true)),
          requested: call.requested,
          ...(call.splits !== undefined && { splits: call.splits }),
          ...(call.parameters !== undefined && { parameters: call.parameters }),
          ...(call.external !== undefined && { external: call.external }),
          ...(call.outputRegions !== undefined && { outputRegions: call.outputRegions }),
          ...(streams[k] !== undefined && { streams: streams[k] }),
        }));
      } catch (err) {
        return split(
          this.#streams.endFailed(streams, calls, this.#failAll(calls, results, toTensorbindError(err))),
        );
      }
      const arena = this.#opts.arena;
      const segments = arena.segments().filter((s) => !this.#mapped.has(s.id));
      for (const s of segments) this.#mapped.add(s.id);
      let reply: ResultMessage;
      try {
        reply = await worker.run({ segments, calls: locations, release: this.#takeReleases() });
      } catch (err) {
        return split(
          this.#streams.endFailed(streams, calls, this.#failAll(calls, results, toTensorbindError(err))),
        );
      }
      const mapped = this.#outputs.map(reply.segments);
      if (mapped.length > 0) worker.notify({ type: "mapped", names: mapped });
      calls.forEach((call, k) => {
        this.#collect(call, reply.results[k], results);
        const r = reply.results[k];
        if (r?.ok && "inRegion" in r && r.inRegion !== undefined)
          inRegionOutputs(batch[call.requests[0]!]!, r.inRegion, results, call.requests[0]!);
      });
      return split(this.#streams.endFailed(streams, calls, results as (ExecutionResult | Error)[]));
    } finally {
      this.#held = undefined;
      for (const slot of held) slot.release();
    }
  }

  /** A decoupled model's responses: their outputs stay in the worker's slots until written. */
  #responses(worker: WorkerProcess, m: ResponsesMessage): void {
    if (worker !== this.#worker) return;
    const mapped = this.#outputs.map(m.segments);
    if (mapped.length > 0) worker.notify({ type: "mapped", names: mapped });
    this.#streams.deliver(m.responses, this.#incarnation);
  }

  /**
   * A call from the model to another model (BLS): the inputs are read where the worker wrote
   * them (its arena), the request goes through the server's request path like any other, and
   * the outputs are written into the input arena, held until the worker's batch ends.
   */
  async #bls(worker: WorkerProcess, m: BlsMessage): Promise<void> {
    const batch = this.#held;
    let request: ExecutionResult | undefined;
    try {
      const { infer, inferStream } = this.#opts;
      if (infer === undefined || (m.decoupled === true && inferStream === undefined))
        throw new UnavailableError("InferenceRequest.exec() needs a server");
      const mapped = this.#outputs.map(m.segments);
      if (mapped.length > 0) worker.notify({ type: "mapped", names: mapped });
      request = this.#slots.result(m.inputs, this.#incarnation);
      const call: InferRequest = {
        model: m.model,
        ...(m.version !== "" && { version: m.version }),
        parameters: { ...m.parameters },
        inputs: Object.values(request),
        ...(m.requested.length > 0 && { outputs: m.requested.map((name) => ({ name, parameters: {} })) }),
      };
      // exec(decoupled=True): each response of the called model as it comes, the last final.
      if (m.decoupled === true) await inferStream!(call, (r) => this.#blsAnswer(worker, m.id, r, batch));
      else this.#blsAnswer(worker, m.id, { response: await infer(call), final: true }, batch);
    } catch (err) {
      const error = toTensorbindError(err).message;
      worker.notify({ type: "bls_result", id: m.id, ok: false, error, final: true });
    } finally {
      if (request !== undefined) takeRelease(request)?.();
    }
  }

  /** One answer to a BLS call: its outputs copied into the input arena, held until the batch ends. */
  #blsAnswer(
    worker: WorkerProcess,
    id: number,
    r: StreamResponse,
    batch: { release(): void }[] | undefined,
  ): void {
    if (batch !== undefined && batch !== this.#held) {
      // The calling batch is over (the model stopped iterating): nobody reads this answer.
      r.response?.release?.();
      return;
    }
    const held = batch ?? [];
    if (r.error !== undefined) {
      worker.notify({ type: "bls_result", id, ok: false, error: r.error.message, final: r.final });
      return;
    }
    const outputs = (r.response?.outputs ?? []).map((t) =>
      this.#place({ name: t.name, datatype: t.datatype, shape: t.shape, parts: [t.bytes] }, held),
    );
    r.response?.release?.();
    const segments = this.#opts.arena.segments().filter((s) => !this.#mapped.has(s.id));
    for (const s of segments) this.#mapped.add(s.id);
    worker.notify({ type: "bls_result", id, ok: true, outputs, segments, final: r.final });
  }

  /**
   * Where the worker reads an input: where it lies when it is in the model's arena (a request
   * body) or, for a call (`inPlace`), in another Python worker's output slot (the previous step
   * of an ensemble), which is held until the call returns; else copied into an arena slot.
   */
  #place(col: ColumnInput, held: { release(): void }[], inPlace = false): InputLocation {
    const head = { name: col.name, datatype: col.datatype, shape: col.shape };
    const only = col.parts.length === 1 ? col.parts[0]! : undefined;
    const found = only === undefined ? undefined : this.#opts.arena.hold(only);
    if (only !== undefined && found !== undefined) {
      held.push(found);
      return { ...head, segment: found.segment, offset: found.offset, length: only.byteLength };
    }
    const shared = inPlace && only !== undefined ? this.#inPlace(only, held) : undefined;
    if (shared !== undefined)
      return { ...head, segment: shared, offset: only!.byteOffset, length: only!.byteLength };
    const length = col.parts.reduce((n, p) => n + p.byteLength, 0);
    if (length === 0) return { ...head, segment: -1, offset: 0, length: 0 };
    const slot = this.#opts.arena.alloc(length);
    held.push(slot);
    let pos = 0;
    for (const part of col.parts) {
      slot.bytes.set(part, pos);
      pos += part.byteLength;
    }
    return { ...head, segment: slot.segment, offset: slot.offset, length };
  }

  /**
   * The name of the worker output segment `view` lies in, when this worker may read it there:
   * the view's slot is pinned (into `held`) and the worker told to unmap the segment once it is
   * dropped. Only for read-only inputs (NumPy): a torch model's inputs are writable scratch.
   */
  #inPlace(view: Uint8Array, held: { release(): void }[]): string | undefined {
    if (this.#opts.framework !== "numpy" || TENSORBIND_IN_PLACE_OFF) return undefined;
    const name = sharedOutputName(view);
    const pin = name === undefined ? undefined : pinOutputView(view);
    if (name === undefined || pin === undefined) return undefined;
    held.push(pin);
    if (!this.#sharedMapped.has(name)) {
      const stopListening = onSharedOutputDropped(name, () => {
        this.#sharedMapped.delete(name);
        this.#worker?.notify({ type: "unmap_shared", names: [name] });
      });
      this.#sharedMapped.set(name, stopListening);
    }
    return name;
  }

  /** A new worker (or none) maps nothing by name yet: no drop concerns this instance any more. */
  #forgetShared(): void {
    for (const stopListening of this.#sharedMapped.values()) stopListening();
    this.#sharedMapped = new Map();
  }

  #failAll(
    calls: readonly PlannedCall[],
    results: (ExecutionResult | Error | undefined)[],
    error: Error,
  ): (ExecutionResult | Error)[] {
    for (const call of calls) for (const i of call.requests) results[i] = error;
    return results as (ExecutionResult | Error)[];
  }

  /**
   * Answers the requests of one call from the worker's result: a plain function's call holds one
   * request and one output set; a function of requests answers each request with its own.
   */
  #collect(
    call: PlannedCall,
    result: ResultMessage["results"][number] | undefined,
    out: (ExecutionResult | Error | undefined)[],
  ): void {
    if (result === undefined || !result.ok) {
      const message = result?.error ?? "the python worker sent no result for a call";
      const err = result?.invalid
        ? new InvalidArgumentError(message)
        : result?.exhausted
          ? new SharedMemoryExhaustedError(message)
          : new InternalError(message);
      for (const i of call.requests) out[i] = err;
      return;
    }
    const parts: readonly (OutputSet | PartError)[] = "parts" in result ? result.parts : [result];
    const incarnation = this.#incarnation;
    if (parts.length !== call.requests.length) {
      for (const p of parts) if (!("error" in p)) this.#slots.discard(p, incarnation);
      const err = new InternalError(
        `the python worker answered ${parts.length} of ${call.requests.length} requests of a call`,
      );
      for (const i of call.requests) out[i] = err;
      return;
    }
    parts.forEach((p, j) => {
      if ("error" in p) {
        out[call.requests[j]!] = new InternalError(p.error); // this request failed on its own
        return;
      }
      try {
        out[call.requests[j]!] = this.#slots.result(p, incarnation);
      } catch (err) {
        out[call.requests[j]!] = toTensorbindError(err);
      }
    });
  }

  #release(incarnation: number, slot: SlotRef): void {
    if (incarnation !== this.#incarnation || this.#stopped) return; // that worker is gone
    this.#releases.push(slot);
  }

  #takeReleases(): SlotRef[] {
    return this.#releases.take();
  }
}
