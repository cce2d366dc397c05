import type { ServerDuplexStream } from "@grpc/grpc-js";
import type { InferenceCore } from "../../core/inference-core.js";
import type { Logger } from "../../core/logger.js";
import { type RequestTrace, traceFields } from "../../core/trace-context.js";
import { callTrace, inferOne, opt, releaseResponse } from "./infer.js";
import type { ModelInferRequestMsg, ModelInferResponseOut, ModelStreamInferResponseOut } from "./messages.js";
import { logged } from "./status.js";
import { inferDecoupledOne, type StreamMessage } from "./stream-decoupled.js";

type Call = ServerDuplexStream<ModelInferRequestMsg, ModelStreamInferResponseOut>;

/** The open streams, so that shutdown can end each one once its last response is out. */
export class StreamRegistry {
  readonly #sessions = new Set<StreamSession>();
  #closing = false;

  add(session: StreamSession): void {
    this.#sessions.add(session);
    if (this.#closing) session.drain();
  }

  delete(session: StreamSession): void {
    this.#sessions.delete(session);
  }

  /** Asks every stream to finish: pending requests are answered, then the stream is ended. */
  drain(): void {
    this.#closing = true;
    for (const s of this.#sessions) s.drain();
  }
}

/**
 * One ModelStreamInfer call. Requests start as they arrive (so a client may pipeline them),
 * responses are written in request order; a decoupled model's responses are written as the model
 * sends them (stream-decoupled.ts). A failed request is answered in-band with `error_message` and
 * the stream goes on; only the client (or shutdown) ends it. The output memory of a response (a
 * Python worker's slot) goes back once grpc-js has serialized it, or when the stream is gone.
 */
export class StreamSession {
  readonly #call: Call;
  readonly #core: InferenceCore;
  readonly #log: Logger;
  readonly #abort = new AbortController();
  /** The stream's trace context: its metadata arrives once, for every request on it. */
  readonly #trace: RequestTrace | undefined;
  /** Resolves when every response so far has been written. */
  #tail: Promise<void> = Promise.resolve();
  #pending = 0;
  #clientDone = false;
  #draining = false;
  #ended = false;

  readonly #streams: StreamRegistry;

  constructor(call: Call, core: InferenceCore, log: Logger, streams: StreamRegistry) {
    this.#streams = streams;
    this.#call = call;
    this.#core = core;
    this.#trace = callTrace(call.metadata);
    // Failures on the stream are logged with its trace, when the caller sent one.
    this.#log = this.#trace ? log.child(traceFields(this.#trace)) : log;
  }

  receive(msg: ModelInferRequestMsg): void {
    if (this.#ended) return;
    this.#pending++;
    if (this.#isDecoupled(msg)) {
      this.#runDecoupled(msg);
      return;
    }
    const result = this.#run(msg);
    this.#tail = this.#tail.then(async () => {
      const response = await result; // #run never rejects: errors become error_message
      const out = response.infer_response;
      if (out?.parameters !== undefined) out.parameters.triton_final_response = { bool_param: true };
      const release = out === null ? undefined : () => releaseResponse(out as ModelInferResponseOut);
      await this.#write({ out: response, release });
      this.#pending--;
      this.#maybeEnd();
    });
  }

  #isDecoupled(msg: ModelInferRequestMsg): boolean {
    try {
      return this.#core.isModelDecoupled(msg.model_name, opt(msg.model_version));
    } catch {
      return false; // an unknown model: the plain path answers NOT_FOUND in-band
    }
  }

  /** A decoupled model's request: each response is queued for writing as soon as it comes. */
  #runDecoupled(msg: ModelInferRequestMsg): void {
    const enqueue = (m: StreamMessage) => {
      this.#tail = this.#tail.then(() => this.#write(m));
    };
    inferDecoupledOne(this.#core, msg, this.#abort.signal, this.#call.getDeadline(), this.#trace, enqueue)
      .catch((err: unknown) => {
        enqueue({ out: inBandError(msg, logged(err, this.#log, "ModelStreamInfer").message) });
      })
      .finally(() => {
        this.#tail = this.#tail.then(() => {
          this.#pending--;
          this.#maybeEnd();
        });
      });
  }

  /** Writes one message (waiting for the client to drain); its memory goes back once it is serialized. */
  async #write({ out, release }: StreamMessage): Promise<void> {
    if (this.#ended) {
      release?.();
      return;
    }
    try {
      if (!this.#call.write(out, () => release?.())) await this.#drained();
    } catch (err) {
      release?.();
      // A write into a stream that just went away; the session is ending anyway.
      this.#log.debug({ err: (err as Error).message }, "ModelStreamInfer write failed");
    }
  }

  /** The client half-closed: answer what is pending, then end. */
  clientDone(): void {
    this.#clientDone = true;
    this.#maybeEnd();
  }

  drain(): void {
    this.#draining = true;
    this.#maybeEnd();
  }

  cancelled(): void {
    this.#ended = true;
    this.#streams.delete(this);
    this.#abort.abort();
  }

  async #run(msg: ModelInferRequestMsg): Promise<ModelStreamInferResponseOut> {
    try {
      const infer_response = await inferOne(
        this.#core,
        msg,
        this.#abort.signal,
        this.#call.getDeadline(),
        this.#trace,
      );
      return { error_message: "", infer_response };
    } catch (err) {
      const e = logged(err, this.#log, "ModelStreamInfer");
      return inBandError(msg, e.message);
    }
  }

  #drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.#call.off("drain", done);
        this.#call.off("cancelled", done);
        resolve();
      };
      this.#call.once("drain", done);
      this.#call.once("cancelled", done);
    });
  }

  #maybeEnd(): void {
    if (this.#ended || this.#pending > 0 || !(this.#clientDone || this.#draining)) return;
    this.#ended = true;
    this.#streams.delete(this);
    this.#call.end();
  }
}

/** A failed request's stream message: the id and model let a client match it to its request. */
function inBandError(msg: ModelInferRequestMsg, message: string): ModelStreamInferResponseOut {
  return {
    error_message: message,
    infer_response: {
      id: msg.id,
      model_name: msg.model_name,
      model_version: msg.model_version,
      parameters: { triton_final_response: { bool_param: true } },
    },
  };
}

export function streamInferHandler(core: InferenceCore, log: Logger, streams: StreamRegistry) {
  return (call: Call) => {
    const session = new StreamSession(call, core, log, streams);
    streams.add(session);
    call.on("data", (msg: ModelInferRequestMsg) => session.receive(msg));
    call.on("end", () => session.clientDone());
    call.on("cancelled", () => session.cancelled());
    call.on("error", () => session.cancelled());
  };
}
