import { rm } from "node:fs/promises";
import { Pair } from "zeromq";
import type { ServerMessage, WorkerMessage } from "./protocol.js";

/**
 * The control channel to one worker process: a ZeroMQ PAIR socket bound to an `ipc://` path
 * in the server's private runtime directory. Small JSON messages only.
 */
export class ControlChannel {
  readonly endpoint: string;
  readonly #path: string;
  readonly #socket: Pair;
  // zeromq.js refuses a send while another is pending; sends are chained instead.
  #sending: Promise<void> = Promise.resolve();
  #closed = false;

  private constructor(path: string, socket: Pair) {
    this.#path = path;
    this.#socket = socket;
    this.endpoint = `ipc://${path}`;
  }

  static async bind(path: string): Promise<ControlChannel> {
    const socket = new Pair({ linger: 0 });
    await socket.bind(`ipc://${path}`);
    return new ControlChannel(path, socket);
  }

  send(message: ServerMessage): Promise<void> {
    const frame = JSON.stringify(message);
    const next = this.#sending.then(() => (this.#closed ? undefined : this.#socket.send(frame)));
    this.#sending = next.catch(() => undefined);
    return next;
  }

  /** Delivers each message until the channel closes. */
  async receive(onMessage: (message: WorkerMessage) => void): Promise<void> {
    try {
      for await (const [frame] of this.#socket) {
        if (frame !== undefined) onMessage(JSON.parse(frame.toString("utf8")) as WorkerMessage);
      }
    } catch (err) {
      if (!this.#closed) throw err;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.close();
    await rm(this.#path, { force: true });
  }
}
