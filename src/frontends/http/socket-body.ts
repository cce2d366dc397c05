import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { InvalidArgumentError } from "../../core/errors.js";
import { loadShmAddonModule } from "../../core/shm-addon-module.js";

/**
 * Large binary bodies skip node:http's body path. node:http reads a socket 64 KiB at a time,
 * copies each read into a fresh Buffer for the parser's body callback, and the body reader then
 * copies that into the tensor's memory: ~1 000 chunks, 2 user-space copies and their garbage per
 * 64 MiB, most of a large request's server CPU. Here, once the headers are parsed, node:http
 * stops reading the socket and the addon's reader thread receives the rest of the body straight
 * into the memory the model reads (a Python model's shared-memory slot): the kernel's copy only.
 *
 * The price: node:http's parser never sees those bytes, so the connection cannot carry another
 * request; the response says `Connection: close` and the client opens a new connection for the
 * next one (negligible next to a body of a mebibyte or more). docs/DATA_PLANE.md has the numbers.
 */

/** A body that still has at least this many bytes to come is read past the parser. */
export const DIRECT_READ_MIN_BYTES = 1 << 20;

/** `TENSORBIND_DIRECT_BODY=0` keeps every body on node:http's path (for a proxy that mishandles `Connection: close`, or to compare). */
const enabled = process.env.TENSORBIND_DIRECT_BODY !== "0";

interface SocketReaderAddon {
  socketReaderInit(onDone: (id: number, error: string | null, bytes: number) => void): void;
  socketRead(fd: number, view: Uint8Array, offset: number, length: number): number;
  socketReadCancel(id: number): boolean;
}

/** node:http's socket, with the internal fields this module relies on (all present since Node 18; each is optional here). */
type HttpSocket = Socket & {
  _handle?: { fd?: number; reading?: boolean; readStop?: () => number; readStart?: () => number } | null;
  /** node:http's own back-pressure flag: while set, its 'resume' handler pauses the socket again. */
  _paused?: boolean;
  encrypted?: boolean;
  /** node:http's parser; `remove()` takes the connection off the server's request-timeout list. */
  parser?: { remove?: () => void } | null;
};

// Reads in flight, by id: the entry keeps the destination memory alive until the thread is done.
const pending = new Map<number, { into: Uint8Array; settle: (error: string | null) => void }>();
let addon: SocketReaderAddon | null | undefined;

function reader(): SocketReaderAddon | undefined {
  if (addon === undefined) {
    try {
      const a = loadShmAddonModule() as Partial<SocketReaderAddon>;
      if (typeof a.socketRead !== "function" || typeof a.socketReaderInit !== "function") addon = null;
      else {
        a.socketReaderInit((id, error) => {
          const entry = pending.get(id);
          pending.delete(id);
          entry?.settle(error);
        });
        addon = a as SocketReaderAddon;
      }
    } catch {
      addon = null;
    }
  }
  return addon ?? undefined;
}

const readPastParser = new WeakSet<IncomingMessage>();

/**
 * The whole body is in. The parser, which never saw it end, would keep the request on the
 * server's request-timeout list (`requestTimeout` is the time to *receive* a request) and answer
 * 408 over a slow model's response: the connection leaves that list, as node:http's own upgrade
 * path does. A forced stop still reaches it (HttpFrontend.destroyConnections).
 */
function bodyIn(req: IncomingMessage, socket: HttpSocket): void {
  readPastParser.add(req);
  socket.parser?.remove?.();
}

/** Whether this request's body was read past node:http's parser (its connection closes after the response). */
export function bodyReadPastParser(req: IncomingMessage): boolean {
  return readPastParser.has(req);
}

/** Test hook: how many socket reads are in flight in this thread. */
export function directReadsInFlight(): number {
  return pending.size;
}

/**
 * Reads the whole body of `req` (exactly `into.byteLength` bytes) into `into`, past node:http's
 * parser; undefined, with nothing consumed, where it cannot (TLS, no file descriptor, little left
 * to read, writes still queued on the socket, or the addon absent), and the caller reads it the usual way.
 */
export function readBodyPastParser(
  req: IncomingMessage,
  res: ServerResponse,
  into: Uint8Array,
): Promise<void> | undefined {
  const socket = req.socket as HttpSocket;
  const handle = socket._handle;
  const fd = handle?.fd;
  if (
    !enabled ||
    socket.encrypted === true ||
    handle == null ||
    typeof fd !== "number" ||
    fd < 0 ||
    req.complete ||
    req.readableFlowing === true ||
    socket.writableLength > 0 ||
    res.headersSent ||
    into.byteLength - req.readableLength < DIRECT_READ_MIN_BYTES
  )
    return undefined;
  const addon = reader();
  if (addon === undefined) return undefined;

  // Stop node:http reading this socket, for good: the reader thread owns its bytes from here on,
  // and node:http restarts reading from several places (its resume and drain handlers, a dumped
  // request), any of which would take body bytes from under the reader.
  socket._paused = true;
  socket.pause();
  handle.readStop?.();
  handle.reading = false;
  handle.readStart = () => 0;
  res.setHeader("Connection", "close");
  // The parser is still in the read that brought the headers: the rest of that read reaches the
  // request's buffer after this handler returns, so the reader starts once it has.
  return new Promise<void>((resolve) => setImmediate(resolve)).then(() =>
    readRest(req, socket, fd, into, addon),
  );
}

function readRest(
  req: IncomingMessage,
  socket: HttpSocket,
  fd: number,
  into: Uint8Array,
  addon: SocketReaderAddon,
): Promise<void> {
  if (socket.destroyed)
    throw new InvalidArgumentError("client closed the connection before sending the whole body");
  let pos = 0;
  for (let chunk: Buffer | null = req.read(); chunk !== null; chunk = req.read()) {
    if (pos + chunk.length > into.byteLength)
      throw new InvalidArgumentError(`request body is longer than its Content-Length (${into.byteLength})`);
    into.set(chunk, pos);
    pos += chunk.length;
  }
  if (pos === into.byteLength) {
    bodyIn(req, socket);
    return Promise.resolve();
  }
  const id = addon.socketRead(fd, into, pos, into.byteLength - pos);
  return new Promise<void>((resolve, reject) => {
    const onClose = () => {
      if (!addon.socketReadCancel(id)) return; // finished first: its result is on its way
      pending.delete(id);
      reject(new InvalidArgumentError("client closed the connection before sending the whole body"));
    };
    // The write side ended before the body was in: node:http timed the request out (408) or the
    // server is going away; nothing more will be read, so the connection goes now.
    const onFinish = () => socket.destroy();
    socket.once("close", onClose);
    socket.once("finish", onFinish);
    pending.set(id, {
      into,
      settle: (error) => {
        socket.off("close", onClose);
        socket.off("finish", onFinish);
        if (error !== null) return reject(new InvalidArgumentError(error));
        bodyIn(req, socket);
        resolve();
      },
    });
  });
}
