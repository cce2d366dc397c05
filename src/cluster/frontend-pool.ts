import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { MessageChannel, type MessagePort, Worker } from "node:worker_threads";
import type { AccessOptions } from "../core/access.js";
import type { InferenceCore } from "../core/inference-core.js";
import type { Logger, LogLevel } from "../core/logger.js";
import type { GrpcOptions } from "../frontends/grpc/server.js";
import type { HttpOptions, PageHandler } from "../frontends/http/server.js";
import { CoreHost } from "./core-host.js";
import type { FrontendThreadData } from "./frontend-thread.js";
import type { ToEngine, ToFrontend } from "./messages.js";

export interface FrontendPoolOptions {
  readonly workers: number;
  readonly logLevel: LogLevel;
  readonly http: Omit<HttpOptions, "pages" | "access"> | undefined;
  readonly grpc: Omit<GrpcOptions, "access"> | undefined;
  /** Who may call what, rebuilt in each thread (a class instance does not cross threads). */
  readonly httpAccess: AccessOptions;
  readonly grpcAccess: AccessOptions;
  readonly pages: PageHandler | undefined;
}

/** Requests taken in by one frontend slot, over every thread that has held it. */
export interface FrontendLoad {
  readonly frontend: number;
  readonly requests: number;
  readonly restarts: number;
}

interface Slot {
  worker: Worker;
  host: CoreHost;
  /** Requests of the threads this slot had before (replaced after a crash). */
  earlier: number;
  restarts: number;
  exited: Promise<void>;
}

/** A thread that keeps dying is restarted at most this often. */
const MAX_BACKOFF_MS = 5000;

/**
 * N frontend threads sharing the HTTP and gRPC ports (SO_REUSEPORT), all feeding the one
 * InferenceCore of this thread: every core takes in bytes, while models, instances, statistics
 * and metrics stay one. A thread that dies is replaced; only its in-flight requests fail.
 *
 * @example
 * const pool = new FrontendPool(engine, { workers: 4, logLevel: "info", http, grpc, pages }, log);
 * const { http: port } = await pool.start();
 * await pool.close();
 */
export class FrontendPool {
  readonly #core: InferenceCore;
  readonly #options: FrontendPoolOptions;
  readonly #log: Logger;
  readonly #slots: (Slot | undefined)[] = [];
  #http: Omit<HttpOptions, "pages" | "access"> | undefined;
  #grpc: Omit<GrpcOptions, "access"> | undefined;
  #closing = false;

  constructor(core: InferenceCore, options: FrontendPoolOptions, log: Logger) {
    this.#core = core;
    this.#options = options;
    this.#log = log;
    this.#http = options.http;
    this.#grpc = options.grpc;
  }

  /** Starts the threads; the first binds the ports (0 picks free ones), the others join it. */
  async start(): Promise<{ http?: number; grpc?: number }> {
    const ports = await this.#spawn(0, 0);
    if (this.#http !== undefined && ports.http !== undefined)
      this.#http = { ...this.#http, port: ports.http };
    if (this.#grpc !== undefined && ports.grpc !== undefined)
      this.#grpc = { ...this.#grpc, port: ports.grpc };
    try {
      await Promise.all(Array.from({ length: this.#options.workers - 1 }, (_, i) => this.#spawn(i + 1, 0)));
    } catch (err) {
      await this.close();
      throw err;
    }
    return ports;
  }

  /** Requests taken in per frontend thread (for the per-frontend metrics). */
  load(): FrontendLoad[] {
    return this.#slots.map((s, i) => ({
      frontend: i,
      requests: (s?.earlier ?? 0) + (s?.host.requests ?? 0),
      restarts: s?.restarts ?? 0,
    }));
  }

  /** Responses whose outputs the threads still read by address (lend.ts): 0 when idle. */
  lentResponses(): number {
    return this.#slots.reduce((n, s) => n + (s?.host.lent ?? 0), 0);
  }

  /** Readiness changed: the threads drop what they cached. */
  readyChanged(ready: boolean): void {
    this.#broadcast({ t: "ready", ready });
  }

  /** Stops every thread: each stops accepting, answers what it has in flight, and exits. */
  async close(): Promise<void> {
    this.#closing = true;
    this.#broadcast({ t: "close" });
    await Promise.all(this.#slots.map((s) => s?.exited));
  }

  /** The grace period is over: every connection is dropped, and threads that still linger end. */
  forceClose(): void {
    this.#closing = true;
    this.#broadcast({ t: "force" });
    const timer = setTimeout(() => {
      for (const s of this.#slots) void s?.worker.terminate();
    }, 1000);
    timer.unref();
  }

  /** @internal Ends one frontend thread abruptly, as a crash would (tests). */
  kill(index: number): Promise<number> {
    const s = this.#slots[index];
    return s === undefined ? Promise.resolve(0) : s.worker.terminate();
  }

  #broadcast(msg: ToFrontend): void {
    for (const s of this.#slots) s?.worker.postMessage(msg);
  }

  /** `attempt` counts the starts in a row that this slot needed, for the back-off. */
  #spawn(index: number, attempt: number): Promise<{ http?: number; grpc?: number }> {
    const sync = new MessageChannel();
    const syncFlag = new SharedArrayBuffer(4);
    const data: FrontendThreadData = {
      index,
      logLevel: this.#options.logLevel,
      http: this.#http,
      grpc: this.#grpc,
      httpAccess: this.#options.httpAccess,
      grpcAccess: this.#options.grpcAccess,
      pages: this.#options.pages !== undefined,
      syncPort: sync.port2,
      syncFlag,
    };
    const worker = threadWorker(data, [sync.port2]);
    const startedAt = performance.now();
    const post = (msg: ToFrontend, transfer?: ArrayBuffer[]) => worker.postMessage(msg, transfer ?? []);
    const host = new CoreHost(this.#core, this.#options.pages, post, this.#log);
    host.serveSync(sync.port1, new Int32Array(syncFlag));
    sync.port1.unref();
    const earlier = this.#slots[index];
    const slot: Slot = {
      worker,
      host,
      earlier: (earlier?.earlier ?? 0) + (earlier?.host.requests ?? 0),
      // Counted once the new thread listens: the metric says the slot serves again.
      restarts: earlier?.restarts ?? 0,
      exited: new Promise((resolve) => worker.once("exit", () => resolve())),
    };
    this.#slots[index] = slot;
    return new Promise((resolve, reject) => {
      let started = false;
      worker.on("message", (msg: ToEngine) => {
        if (host.receive(msg)) return;
        if (msg.t === "listening") {
          started = true;
          if (earlier !== undefined) slot.restarts++;
          resolve({
            ...(msg.http !== undefined && { http: msg.http }),
            ...(msg.grpc !== undefined && { grpc: msg.grpc }),
          });
        } else if (msg.t === "start-failed") reject(new Error(msg.message));
      });
      worker.on("error", (err) => {
        this.#log.error({ err, frontend: index }, "frontend thread failed");
        if (!started) reject(err);
      });
      worker.once("exit", (code) => {
        sync.port1.close();
        host.abandon();
        if (!started) reject(new Error(`frontend thread ${index} exited (code ${code}) before listening`));
        if (this.#closing || !started) return;
        // A thread that served a while restarts at once; one that keeps dying backs off.
        const next = performance.now() - startedAt > 10_000 ? 0 : attempt + 1;
        const delay = Math.min(MAX_BACKOFF_MS, 100 * 2 ** next);
        this.#log.error(
          { frontend: index, code, restartInMs: delay },
          "frontend thread ended; starting a new one",
        );
        setTimeout(() => {
          if (this.#closing) return;
          this.#spawn(index, next).catch((err: unknown) =>
            this.#log.error({ err, frontend: index }, "frontend thread did not restart"),
          );
        }, delay).unref();
      });
    });
  }
}

/**
 * The worker for a frontend thread. From the built package it runs frontend-thread.js; from the
 * TypeScript sources (tests, tsx) it first registers tsx in the thread.
 */
function threadWorker(data: FrontendThreadData, transferList: MessagePort[]): Worker {
  const here = import.meta.url;
  if (!/\.ts$/.test(here)) {
    return new Worker(new URL("./frontend-thread.js", here), { workerData: data, transferList });
  }
  const tsx = pathToFileURL(createRequire(here).resolve("tsx/esm/api")).href;
  const entry = new URL("./frontend-thread.ts", here).href;
  const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(code, { eval: true, workerData: data, transferList });
}
