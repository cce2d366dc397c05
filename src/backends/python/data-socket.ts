import { rm } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { InternalError } from "../../core/errors.js";
import type { ServerMessage, WorkerMessage } from "./protocol.js";

/** Frames: a u32 little-endian byte count, then that many bytes of UTF-8 JSON. */
const HEADER = 4;
/** A frame longer than this is a broken peer, not a message (descriptors are small). */
const MAX_FRAME = 256 << 20;

/**
 * The request path to one worker: a Unix-domain stream socket in the server's private runtime
 * directory, carrying the control messages that go with requests (batches, results, slot
 * releases, segment announcements, BLS calls) as length-prefixed JSON frames.
 *
 * Why not ZeroMQ for these: each ZeroMQ message crosses an I/O thread on both sides, four thread
 * hand-offs per round trip; here the server's event loop writes to the socket and the worker's
 * blocking read returns (bench/worker-hop: about half the round-trip time on this machine).
 * ZeroMQ keeps the worker's start-up and shutdown (channel.ts); docs/DATA_PLANE.md says which
 * frame takes which path.
 *
 * The socket accepts exactly one connection, the worker's; the listener closes once it came.
 */
export class DataSocket {
  readonly path: string;
  /** Resolves when the worker connected. */
  readonly connected: Promise<void>;
  readonly #server: Server;
  #socket: Socket | undefined;
  #onMessage: (message: WorkerMessage) => void = () => undefined;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #closed = false;
  #onClose: () => void = () => undefined;

  private constructor(path: string, server: Server) {
    this.path = path;
    this.#server = server;
    this.connected = new Promise<void>((resolve) => {
      server.once("connection", (socket: Socket) => {
        server.close();
        if (this.#closed) {
          socket.destroy();
          return;
        }
        this.#socket = socket;
        socket.on("data", (chunk: Buffer) => this.#read(chunk));
        socket.on("error", () => undefined); // a dead worker: its exit is reported by the process
        socket.on("close", () => this.#onClose());
        resolve();
      });
    });
    this.connected.catch(() => undefined);
  }

  static async listen(path: string): Promise<DataSocket> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(path, () => {
        server.off("error", reject);
        resolve();
      });
    });
    return new DataSocket(path, server);
  }

  /** Delivers each message as it arrives. */
  receive(onMessage: (message: WorkerMessage) => void): void {
    this.#onMessage = onMessage;
  }

  /** Called once when the worker's end closes (the worker died or stopped). */
  onClose(callback: () => void): void {
    this.#onClose = callback;
  }

  /** Writes one frame; the event loop writes it at once when the socket buffer has room. */
  send(message: ServerMessage): Promise<void> {
    const socket = this.#socket;
    if (this.#closed || socket === undefined || socket.destroyed)
      return Promise.reject(new InternalError("the worker's data socket is closed"));
    const body = JSON.stringify(message);
    const length = Buffer.byteLength(body);
    const frame = Buffer.allocUnsafe(HEADER + length);
    frame.writeUInt32LE(length, 0);
    frame.write(body, HEADER, "utf8");
    socket.write(frame);
    return Promise.resolve();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket?.destroy();
    this.#server.close();
    await rm(this.path, { force: true });
  }

  #read(chunk: Buffer): void {
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
    while (this.#pendingBytes >= HEADER) {
      const head = this.#pending[0]!.length >= HEADER ? this.#pending[0]! : this.#merge();
      const length = head.readUInt32LE(0);
      if (length > MAX_FRAME) {
        this.#socket?.destroy(new InternalError(`the worker sent a frame of ${length} bytes`));
        return;
      }
      if (this.#pendingBytes < HEADER + length) return;
      const buf = this.#pending[0]!.length >= HEADER + length ? this.#pending[0]! : this.#merge();
      const message = JSON.parse(buf.toString("utf8", HEADER, HEADER + length)) as WorkerMessage;
      const rest = buf.subarray(HEADER + length);
      this.#pendingBytes -= HEADER + length;
      if (rest.length === 0) this.#pending.shift();
      else this.#pending[0] = rest;
      this.#onMessage(message);
    }
  }

  /** Joins the buffered chunks into one (a frame split across reads). */
  #merge(): Buffer {
    const all = Buffer.concat(this.#pending, this.#pendingBytes);
    this.#pending = [all];
    return all;
  }
}
