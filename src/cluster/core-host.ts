import type { IncomingMessage, ServerResponse } from "node:http";
import type { MessagePort } from "node:worker_threads";
import type { InferResponse, StreamResponse } from "../core/infer.js";
import type { InferenceCore, ModelLoadOverrides } from "../core/inference-core.js";
import type { Logger } from "../core/logger.js";
import type { SharedMemoryRef, SharedView } from "../core/shared-memory.js";
import type { PageHandler } from "../frontends/http/server.js";
import { type Lender, makeLender } from "./lend.js";
import type { RenderedPage, ShmOp, SyncCall, SyncReply, ToEngine, ToFrontend } from "./messages.js";
import { lends, packError, packResponse, unpackRequest, type WireRequest } from "./wire.js";

/**
 * The engine's side of one frontend thread: runs the thread's inference requests on the one
 * InferenceCore every thread shares, answers its synchronous questions, and renders dashboard
 * pages for it. Counts what the thread sent, for the per-frontend metrics.
 */
export class CoreHost {
  readonly #core: InferenceCore;
  readonly #pages: PageHandler | undefined;
  readonly #post: (msg: ToFrontend, transfer?: ArrayBuffer[]) => void;
  readonly #log: Logger;
  readonly #aborts = new Map<number, AbortController>();
  /** Responses whose outputs the thread reads by address (lend.ts), kept until it releases them. */
  readonly #lent = new Map<number, InferResponse>();
  readonly #lend: Lender | undefined = makeLender();
  /** Shared-memory views handed to the thread (as copies), kept until it releases them. */
  readonly #views = new Map<number, SharedView>();
  #nextView = 0;
  /** Inference requests this thread has sent since it started. */
  requests = 0;

  constructor(
    core: InferenceCore,
    pages: PageHandler | undefined,
    post: (msg: ToFrontend, transfer?: ArrayBuffer[]) => void,
    log: Logger,
  ) {
    this.#core = core;
    this.#pages = pages;
    this.#post = post;
    this.#log = log;
  }

  get inFlight(): number {
    return this.#aborts.size;
  }

  /** Responses lent to the thread and not yet released (for leak tests). */
  get lent(): number {
    return this.#lent.size;
  }

  /** Serves synchronous calls arriving on `port`; each answer wakes the waiting thread through `flag`. */
  serveSync(port: MessagePort, flag: Int32Array): void {
    port.on("message", (call: SyncCall) => {
      port.postMessage(this.#answer(call));
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
    });
  }

  #answer(call: SyncCall): SyncReply {
    try {
      const core = this.#core;
      const [a, b] = call.args as (string | undefined)[];
      switch (call.method) {
        case "isLive":
          return { ok: true, value: core.isLive() };
        case "isReady":
          return { ok: true, value: core.isReady() };
        case "serverMetadata":
          return { ok: true, value: core.serverMetadata() };
        case "isModelReady":
          return { ok: true, value: core.isModelReady(a!, b) };
        case "isModelDecoupled":
          return { ok: true, value: core.isModelDecoupled(a!, b) };
        case "modelMetadata":
          return { ok: true, value: core.modelMetadata(a!, b) };
        case "modelConfig":
          return { ok: true, value: core.modelConfig(a!, b) };
        case "modelStatistics":
          return { ok: true, value: core.modelStatistics(a, b) };
        case "repositoryIndex":
          return { ok: true, value: core.repositoryIndex(call.args[0] as boolean | undefined) };
        case "page":
          return { ok: true, value: this.#render(a!, b!) };
        case "shm":
          return { ok: true, value: this.#shm(call.args) };
      }
    } catch (err) {
      return { ok: false, err: packError(err) };
    }
  }

  #shm(args: readonly unknown[]): unknown {
    const shm = this.#core.sharedMemory;
    const [op, a, b, c, d] = args;
    switch (op as ShmOp) {
      case "extensions":
        return shm.extensions;
      case "systemStatus":
        return shm.systemStatus(a as string | undefined);
      case "systemRegister":
        return shm.systemRegister(a as string, b, c, d);
      case "systemUnregister":
        return shm.systemUnregister(a as string | undefined);
      case "cudaStatus":
        return shm.cudaStatus(a as string | undefined);
      case "cudaRegister":
        return shm.cudaRegister(a as string, b as Uint8Array, c, d);
      case "cudaUnregister":
        return shm.cudaUnregister(a as string | undefined);
      case "view": {
        const view = shm.view(a as SharedMemoryRef, b as string);
        const handle = ++this.#nextView;
        this.#views.set(handle, view);
        // No bytes: the request comes back naming the view, and the model reads the region here.
        return { handle, placement: view.placement };
      }
      case "viewBytes":
        return this.#views.get(a as number)?.bytes.slice();
      case "release":
        this.#views.get(a as number)?.release();
        this.#views.delete(a as number);
        return undefined;
    }
  }

  /** Runs the page handler against a minimal request/response pair and captures what it writes. */
  #render(method: string, path: string): RenderedPage | undefined {
    if (this.#pages === undefined) return undefined;
    let page: { status: number; headers: Record<string, string | number>; body: Uint8Array | undefined } = {
      status: 200,
      headers: {},
      body: undefined,
    };
    const res = {
      writeHead(status: number, headers: Record<string, string | number>) {
        page = { ...page, status, headers };
        return res;
      },
      end(body?: Uint8Array) {
        page = { ...page, body };
        return res;
      },
    };
    const handled = this.#pages({ method } as IncomingMessage, res as unknown as ServerResponse, path);
    return handled ? page : undefined;
  }

  /** Handles an inference request or an abort from the thread. */
  receive(msg: ToEngine): boolean {
    if (msg.t === "abort") {
      this.#aborts.get(msg.id)?.abort();
      return true;
    }
    if (msg.t === "release") {
      const res = this.#lent.get(msg.id);
      this.#lent.delete(msg.id);
      res?.release?.();
      return true;
    }
    if (msg.t === "control") {
      const done =
        msg.op === "loadModel"
          ? this.#core.loadModel(msg.args[0] as string, msg.args[1] as ModelLoadOverrides | undefined)
          : this.#core.unloadModel(
              msg.args[0] as string,
              msg.args[1] as { unloadDependents?: boolean } | undefined,
            );
      done.then(
        () => this.#post({ t: "ok", id: msg.id }),
        (err: unknown) => this.#post({ t: "fail", id: msg.id, err: packError(err) }),
      );
      return true;
    }
    if (msg.t === "stream") return this.#stream(msg.id, msg.req);
    if (msg.t !== "infer") return false;
    this.requests++;
    const abort = new AbortController();
    this.#aborts.set(msg.id, abort);
    let request: ReturnType<typeof unpackRequest>;
    try {
      request = unpackRequest(msg.req, abort.signal, (h) => this.#views.get(h));
    } catch (err) {
      this.#aborts.delete(msg.id);
      this.#post({ t: "fail", id: msg.id, err: packError(err) });
      return true;
    }
    this.#core.infer(request).then(
      (res) => {
        this.#aborts.delete(msg.id);
        // Answered even when aborted: the thread's handler is waiting for the outcome.
        const transfer: ArrayBuffer[] = [];
        let packed: ReturnType<typeof packResponse>;
        try {
          packed = packResponse(res, msg.req, transfer, this.#lend);
        } catch (err) {
          res.release?.();
          this.#post({ t: "fail", id: msg.id, err: packError(err) });
          return;
        }
        // Copied or moved outputs need the engine's memory no more; lent ones until released.
        if (lends(packed)) this.#lent.set(msg.id, res);
        else res.release?.();
        this.#post({ t: "done", id: msg.id, res: packed }, transfer);
      },
      (err: unknown) => {
        this.#aborts.delete(msg.id);
        this.#post({ t: "fail", id: msg.id, err: packError(err) });
      },
    );
    return true;
  }

  /** A decoupled model's request: each response goes to the thread as it comes ("part"). */
  #stream(id: number, req: WireRequest): true {
    this.requests++;
    const abort = new AbortController();
    this.#aborts.set(id, abort);
    const part = (r: StreamResponse): void => {
      const transfer: ArrayBuffer[] = [];
      try {
        const res = r.response === undefined ? undefined : packResponse(r.response, req, transfer);
        const err = r.error === undefined ? undefined : packError(r.error);
        this.#post({ t: "part", id, ...(res && { res }), ...(err && { err }), final: r.final }, transfer);
      } catch (e) {
        this.#post({ t: "part", id, err: packError(e), final: r.final });
      } finally {
        r.response?.release?.(); // packed (copied or moved) by now
      }
    };
    let request: ReturnType<typeof unpackRequest>;
    try {
      request = unpackRequest(req, abort.signal, (h) => this.#views.get(h));
    } catch (err) {
      this.#aborts.delete(id);
      this.#post({ t: "fail", id, err: packError(err) });
      return true;
    }
    this.#core.inferStream(request, part).then(
      () => {
        this.#aborts.delete(id);
        this.#post({ t: "ok", id });
      },
      (err: unknown) => {
        this.#aborts.delete(id);
        this.#post({ t: "fail", id, err: packError(err) });
      },
    );
    return true;
  }

  /** The thread is gone: its requests have no one to answer to. */
  abandon(): void {
    for (const v of this.#views.values()) v.release();
    this.#views.clear();
    for (const res of this.#lent.values()) res.release?.();
    this.#lent.clear();
    for (const a of this.#aborts.values()) a.abort();
    if (this.#aborts.size > 0)
      this.#log.warn({ requests: this.#aborts.size }, "frontend thread gone: its requests are cancelled");
    this.#aborts.clear();
  }
}
