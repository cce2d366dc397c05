import type { ExecutionRequest, ExecutionResult, StreamedResponse } from "../../core/backend.js";
import { InternalError, toTensorbindError } from "../../core/errors.js";
import type { OutputSlots } from "./output-slots.js";
import type { StreamResponseJson } from "./protocol.js";

interface OpenStream {
  readonly respond: (response: StreamedResponse) => void;
  readonly incarnation: number;
}

/**
 * The open requests of a decoupled Python model on one instance: each has a stream id the worker's
 * responses carry, and stays open until its final response (or the worker's death).
 */
export class ResponseStreams {
  readonly #open = new Map<number, OpenStream>();
  readonly #slots: OutputSlots;
  #nextId = 0;

  constructor(slots: OutputSlots) {
    this.#slots = slots;
  }

  get size(): number {
    return this.#open.size;
  }

  open(respond: (response: StreamedResponse) => void, incarnation: number): number {
    const id = ++this.#nextId;
    this.#open.set(id, { respond, incarnation });
    return id;
  }

  /**
   * Stream ids for a call's decoupled requests (undefined when it has none; -1 for a request that
   * is not); a client that goes away is reported through `cancel` (the model's is_cancelled()).
   */
  openFor(
    batch: readonly ExecutionRequest[],
    requests: readonly number[],
    incarnation: number,
    cancel: (id: number) => void,
  ): number[] | undefined {
    if (!requests.some((i) => batch[i]!.respond !== undefined)) return undefined;
    return requests.map((i) => {
      const { respond, signal } = batch[i]!;
      if (respond === undefined) return -1;
      const onAbort = () => {
        if (this.isOpen(id)) cancel(id);
      };
      const id = this.open((r) => {
        if (r.final) signal?.removeEventListener("abort", onAbort);
        respond(r);
      }, incarnation);
      signal?.addEventListener("abort", onAbort, { once: true });
      return id;
    });
  }

  /** A decoupled request whose call failed gets the error as its final response. */
  endFailed<R>(
    streams: readonly (number[] | undefined)[],
    calls: readonly { readonly requests: readonly number[] }[],
    results: R[],
  ): R[] {
    calls.forEach((call, k) => {
      call.requests.forEach((i, j) => {
        const id = streams[k]?.[j];
        const r = results[i];
        if (id !== undefined && id >= 0 && r instanceof Error) this.fail(id, r);
      });
    });
    return results;
  }

  /** Whether the stream still waits for its final response. */
  isOpen(id: number): boolean {
    return this.#open.has(id);
  }

  /** Responses from the worker of `incarnation`; a late one (after FINAL) only gives its slot back. */
  deliver(responses: readonly StreamResponseJson[], incarnation: number): void {
    for (const r of responses) {
      const stream = this.#open.get(r.stream);
      if (stream === undefined || stream.incarnation !== incarnation) {
        if (r.slot != null) this.#slots.discard({ slot: r.slot, outputs: [] }, incarnation);
        continue;
      }
      if (r.final) this.#open.delete(r.stream);
      let response: StreamedResponse;
      if (r.error !== undefined) response = { error: new InternalError(r.error), final: r.final };
      else if (r.outputs !== undefined) {
        let result: ExecutionResult;
        try {
          result = this.#slots.result({ slot: r.slot ?? null, outputs: r.outputs }, incarnation);
        } catch (err) {
          stream.respond({ error: toTensorbindError(err), final: r.final });
          continue;
        }
        response = { result, final: r.final };
      } else response = { final: r.final };
      stream.respond(response);
    }
  }

  /** Ends a stream with an error as its final response (its call failed; the worker died). */
  fail(id: number, error: Error): void {
    const stream = this.#open.get(id);
    if (stream === undefined) return;
    this.#open.delete(id);
    stream.respond({ error, final: true });
  }

  /** Ends every stream of the given incarnation (or all) with `error`. */
  failAll(error: Error, incarnation?: number): void {
    for (const [id, s] of [...this.#open])
      if (incarnation === undefined || s.incarnation === incarnation) this.fail(id, error);
  }
}
