import { type MessagePort, receiveMessageOnPort } from "node:worker_threads";
import { heapRequestBuffer } from "../backends/request-buffer.js";
import type { RequestBuffer } from "../core/backend.js";
import { UnavailableError } from "../core/errors.js";
import type { InferRequest, InferResponse, StreamResponse } from "../core/infer.js";
import type {
  InferenceCore,
  ModelLoadOverrides,
  ModelMetadata,
  RepositoryEntry,
  ServerMetadata,
} from "../core/inference-core.js";
import type { ModelConfig } from "../core/model-config.js";
import type { SharedMemoryCore } from "../core/shared-memory.js";
import type { ModelStatistics } from "../core/statistics.js";
import type { RenderedPage, SyncCall, SyncMethod, SyncReply, ToEngine, ToFrontend } from "./messages.js";
import { RemoteSharedMemory } from "./remote-shared-memory.js";
import { lends, packRequest, unpackError, unpackResponse, type WireResponse } from "./wire.js";

/** How long answers about models stay cached in a frontend thread (health, metadata, config). */
const CACHE_MS = 100;
/** A synchronous call unanswered this long fails (the engine's thread is stuck). */
const SYNC_TIMEOUT_MS = 10_000;

/** One response's lent outputs: released once, explicitly or when all its views are collected. */
interface LentToken {
  readonly id: number;
  refs: number;
  done: boolean;
}

interface Pending {
  resolve(res: InferResponse | undefined): void;
  reject(err: Error): void;
}

/**
 * The InferenceCore of a frontend thread: inference requests go to the engine's thread as
 * messages (tensor buffers moved, not copied); the synchronous questions (readiness, metadata,
 * statistics) are answered by a blocking call on a second port — the frontend thread waits
 * for the engine's answer (Atomics.wait) — and cached for a moment, except statistics.
 */
export class RemoteCore implements InferenceCore {
  readonly #post: (msg: ToEngine, transfer?: ArrayBuffer[]) => void;
  readonly #syncPort: MessagePort;
  readonly #syncFlag: Int32Array;
  readonly #pending = new Map<number, Pending>();
  readonly #cache = new Map<string, { at: number; reply: SyncReply }>();
  readonly #lentGone = new FinalizationRegistry<LentToken>((token) => {
    if (--token.refs === 0) this.#giveBack(token);
  });
  /** The response handlers of decoupled requests in flight. */
  readonly #parts = new Map<number, (response: StreamResponse) => void>();
  #next = 0;
  readonly sharedMemory: SharedMemoryCore = new RemoteSharedMemory((op, ...args) =>
    this.call("shm", [op, ...args]),
  );

  constructor(
    post: (msg: ToEngine, transfer?: ArrayBuffer[]) => void,
    syncPort: MessagePort,
    syncFlag: Int32Array,
  ) {
    this.#post = post;
    this.#syncPort = syncPort;
    this.#syncFlag = syncFlag;
  }

  /** Feeds a message from the engine's thread; returns false for messages that are not answers. */
  receive(msg: ToFrontend): boolean {
    if (msg.t === "ready") {
      this.#cache.clear();
      return true;
    }
    if (msg.t === "part") {
      this.#parts.get(msg.id)?.({
        ...(msg.res !== undefined && { response: unpackResponse(msg.res) }),
        ...(msg.err !== undefined && { error: unpackError(msg.err) }),
        final: msg.final,
      });
      return true;
    }
    if (msg.t !== "done" && msg.t !== "ok" && msg.t !== "fail") return false;
    const p = this.#pending.get(msg.id);
    if (p === undefined) return true;
    this.#pending.delete(msg.id);
    if (msg.t === "done") p.resolve(this.#withRelease(msg.id, msg.res));
    else if (msg.t === "ok") p.resolve(undefined);
    else p.reject(unpackError(msg.err));
    return true;
  }

  get inFlight(): number {
    return this.#pending.size;
  }

  /**
   * A response whose lent outputs (lend.ts) go back to the engine's thread on release() — the
   * frontends call it once written — or, where nobody calls it, once every lent view is collected.
   */
  #withRelease(id: number, w: WireResponse): InferResponse {
    const res = unpackResponse(w);
    if (!lends(w)) return res;
    const token: LentToken = { id, refs: 0, done: false };
    w.outputs.forEach((t, i) => {
      if (t.address === undefined) return;
      token.refs++;
      this.#lentGone.register(res.outputs[i]!.bytes, token, token);
    });
    return { ...res, release: () => this.#giveBack(token) };
  }

  #giveBack(token: LentToken): void {
    if (token.done) return;
    token.done = true;
    this.#lentGone.unregister(token);
    this.#post({ t: "release", id: token.id });
  }

  isLive(): boolean {
    return this.#cached("isLive", []) as boolean;
  }
  isReady(): boolean {
    return this.#cached("isReady", []) as boolean;
  }
  serverMetadata(): ServerMetadata {
    return this.#cached("serverMetadata", []) as ServerMetadata;
  }
  isModelReady(model: string, version?: string): boolean {
    return this.#cached("isModelReady", [model, version]) as boolean;
  }
  isModelDecoupled(model: string, version?: string): boolean {
    return this.#cached("isModelDecoupled", [model, version]) as boolean;
  }
  modelMetadata(model: string, version?: string): ModelMetadata {
    return this.#cached("modelMetadata", [model, version]) as ModelMetadata;
  }
  modelConfig(model: string, version?: string): ModelConfig {
    return this.#cached("modelConfig", [model, version]) as ModelConfig;
  }
  modelStatistics(model?: string, version?: string): ModelStatistics[] {
    return this.call("modelStatistics", [model, version]) as ModelStatistics[];
  }
  repositoryIndex(readyOnly?: boolean): RepositoryEntry[] {
    return this.call("repositoryIndex", [readyOnly]) as RepositoryEntry[];
  }

  loadModel(name: string, overrides?: ModelLoadOverrides): Promise<void> {
    return this.#control("loadModel", [name, overrides]);
  }

  unloadModel(name: string, options?: { unloadDependents?: boolean }): Promise<void> {
    return this.#control("unloadModel", [name, options]);
  }

  #control(op: "loadModel" | "unloadModel", args: unknown[]): Promise<void> {
    const id = ++this.#next;
    return new Promise<void>((resolve, reject) => {
      this.#pending.set(id, { resolve: () => resolve(), reject });
      this.#post({ t: "control", id, op, args });
    }).finally(() => this.#cache.clear());
  }

  /**
   * A heap buffer in this thread, aligned like the engine's: it moves to the engine's thread with
   * the request (no copy), so a native model still gets aligned input; a Python model's arena
   * slot is not reachable from here (one copy on the engine's side, docs/DESIGN.md).
   */
  requestBuffer(
    _model: string,
    _version: string | undefined,
    byteLength: number,
    alignAt: number,
  ): RequestBuffer {
    return heapRequestBuffer(byteLength, alignAt);
  }

  /** A dashboard page, rendered on the engine's thread; undefined when no page has this path. */
  page(method: string, path: string): RenderedPage | undefined {
    return this.call("page", [method, path]) as RenderedPage | undefined;
  }

  inferStream(request: InferRequest, onResponse: (response: StreamResponse) => void): Promise<void> {
    const id = ++this.#next;
    this.#parts.set(id, onResponse);
    return this.#send("stream", id, request).then(
      () => {
        this.#parts.delete(id);
      },
      (err: unknown) => {
        this.#parts.delete(id);
        throw err;
      },
    );
  }

  infer(request: InferRequest): Promise<InferResponse> {
    return this.#send("infer", ++this.#next, request) as Promise<InferResponse>;
  }

  #send(t: "infer" | "stream", id: number, request: InferRequest): Promise<InferResponse | undefined> {
    const transfer: ArrayBuffer[] = [];
    const req = packRequest(request, transfer);
    return new Promise<InferResponse | undefined>((resolve, reject) => {
      const signal = request.signal;
      const onAbort = () => this.#post({ t: "abort", id });
      this.#pending.set(id, {
        resolve: (res) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(res);
        },
        reject: (err) => {
          signal?.removeEventListener("abort", onAbort);
          reject(err);
        },
      });
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#post({ t, id, req }, transfer);
    });
  }

  #cached(method: SyncMethod, args: readonly (string | undefined)[]): unknown {
    const key = `${method}\0${args.join("\0")}`;
    const now = performance.now();
    const hit = this.#cache.get(key);
    if (hit !== undefined && now - hit.at < CACHE_MS) return unwrap(hit.reply);
    const reply = this.#callRaw(method, args);
    // Only successes are cached: an unknown model is asked again (it may be loaded meanwhile).
    if (reply.ok) this.#cache.set(key, { at: now, reply });
    return unwrap(reply);
  }

  /** A blocking call to the engine's thread. */
  call(method: SyncMethod, args: readonly unknown[]): unknown {
    return unwrap(this.#callRaw(method, args));
  }

  #callRaw(method: SyncMethod, args: readonly unknown[]): SyncReply {
    Atomics.store(this.#syncFlag, 0, 0);
    const call: SyncCall = { method, args };
    this.#syncPort.postMessage(call);
    if (Atomics.wait(this.#syncFlag, 0, 0, SYNC_TIMEOUT_MS) === "timed-out")
      throw new UnavailableError(`the server's engine did not answer ${method} within ${SYNC_TIMEOUT_MS} ms`);
    const got = receiveMessageOnPort(this.#syncPort);
    if (got === undefined) throw new UnavailableError(`no answer to ${method} from the server's engine`);
    return got.message as SyncReply;
  }

  /** Fails every request still waiting (the engine's thread is going away). */
  failAll(message: string): void {
    for (const p of this.#pending.values()) p.reject(new UnavailableError(message));
    this.#pending.clear();
  }
}

function unwrap(reply: SyncReply): unknown {
  if (reply.ok) return reply.value;
  throw unpackError(reply.err);
}
