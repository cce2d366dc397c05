import type { ExecutionResult } from "../../core/backend.js";
import { isDatatype } from "../../core/datatypes.js";
import { InternalError } from "../../core/errors.js";
import { attachRelease } from "../../core/release.js";
import { Tensor } from "../../core/tensor.js";
import type { OutputSegments } from "./arena.js";
import type { OutputSet, SlotRef } from "./protocol.js";

/** One output slot of the worker's arena and whether it went back yet. */
interface SlotToken {
  readonly owner: OutputSlots;
  readonly incarnation: number;
  readonly slot: SlotRef;
  refs: number;
  released: boolean;
  /** Calls reading a view in place (pinOutputView); the slot goes back after the last. */
  pins: number;
  releaseWhenUnpinned: boolean;
}

/** Output views that can be pinned: the view -> its slot. */
const pinnable = new WeakMap<Uint8Array, SlotToken>();

/**
 * Keeps the worker slot `view` lies in from going back to its worker until the returned handle
 * is released, even if its result is released meanwhile: another worker reads the view in place
 * (arena.ts sharedOutputName). Undefined when `view` is not an output view of a Python worker.
 */
export function pinOutputView(view: Uint8Array): { release(): void } | undefined {
  const token = pinnable.get(view);
  return token?.owner.pin(token);
}

/**
 * Output slot lifetime: response tensors view the worker's arena and must stay intact until the
 * frontend has written them. The frontend says so (InferResponse.release, attached here to the
 * ExecutionResult); the slot then goes back to the worker with the next message. Callers that
 * never release (an in-process infer() whose result is dropped) are covered by a
 * FinalizationRegistry: the slot goes back when every view of it *and* its release function have
 * been collected. The release function counts because views are not the only way to the memory:
 * node writes each Uint8Array as a Buffer of its own over it, so a frontend may hold nothing but
 * those Buffers and the release it calls once they are written.
 */
export class OutputSlots {
  readonly #segments: () => OutputSegments;
  readonly #giveBack: (incarnation: number, slot: SlotRef) => void;
  readonly #registry = new FinalizationRegistry<SlotToken>((token) => {
    if (--token.refs === 0) this.#release(token);
  });

  constructor(segments: () => OutputSegments, giveBack: (incarnation: number, slot: SlotRef) => void) {
    this.#segments = segments;
    this.#giveBack = giveBack;
  }

  /** Tensors over one output set, with its release attached to the result. */
  result(set: OutputSet, incarnation: number): ExecutionResult {
    const token: SlotToken | undefined =
      set.slot === null
        ? undefined
        : {
            owner: this,
            incarnation,
            slot: set.slot,
            refs: 0,
            released: false,
            pins: 0,
            releaseWhenUnpinned: false,
          };
    const res: ExecutionResult = {};
    try {
      for (const o of set.outputs) {
        if (!isDatatype(o.datatype))
          throw new InternalError(`worker output '${o.name}' has datatype '${o.datatype}'`);
        const bytes =
          o.length === 0 ? new Uint8Array(0) : this.#segments().view(o.segment, o.offset, o.length);
        res[o.name] = new Tensor(o.name, o.datatype, o.shape, bytes);
        if (token !== undefined && o.length > 0) {
          token.refs++;
          this.#registry.register(bytes, token, token);
          pinnable.set(bytes, token);
        }
      }
    } catch (err) {
      if (token !== undefined) this.#release(token);
      throw err;
    }
    if (token !== undefined) {
      if (token.refs === 0) this.#release(token);
      else {
        const release = () => this.#release(token);
        token.refs++;
        this.#registry.register(release, token, token);
        attachRelease(res, release);
      }
    }
    return res;
  }

  /** Gives back slots of a result that will never be answered (the other parts failed). */
  discard(set: OutputSet, incarnation: number): void {
    if (set.slot !== null) this.#giveBack(incarnation, set.slot);
  }

  /** pinOutputView's pin of one of this instance's slots (undefined once it went back). */
  pin(token: SlotToken): { release(): void } | undefined {
    if (token.released) return undefined;
    token.pins++;
    let done = false;
    return {
      release: () => {
        if (done) return;
        done = true;
        if (--token.pins === 0 && token.releaseWhenUnpinned) this.#release(token);
      },
    };
  }

  #release(token: SlotToken): void {
    if (token.released) return;
    if (token.pins > 0) {
      token.releaseWhenUnpinned = true; // read in place by another call: back once it is done
      return;
    }
    token.released = true;
    this.#registry.unregister(token);
    this.#giveBack(token.incarnation, token.slot);
  }
}
