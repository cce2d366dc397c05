import type { IncomingMessage, ServerResponse } from "node:http";
import { Socket } from "node:net";
import { InvalidArgumentError } from "../../core/errors.js";
import { optionalShmAddon } from "../../core/shm-addon-module.js";

/**
 * Large binary bodies skip node:http's body path. node:http reads a socket 64 KiB at a time,
 * copies each read into a fresh Buffer for the parser's body callback, and the body reader then
 * copies that into the tensor's memory: ~1 000 chunks, 2 user-space copies and their garbage per
 * 64 MiB, most of a large request's server CPU. Here, once the headers are parsed, node:http
 * stops reading the socket, and a socket of our own over a duplicate of its descriptor reads the
 * rest of the body with `onread` into the memory the model reads (a Python model's
 * shared-memory slot): the kernel's copy only, on the same event loop.
 *
 * The price: node:http's parser never sees those bytes, so the connection cannot carry another
 * request; the response says `Connection: close` and the client opens a new connection for the
 * next one (negligible next to a body of a mebibyte or more). docs/DATA_PLANE.md has the numbers.
 */

/** A body that still has at least this many bytes to come is read past the parser. */
export const DIRECT_READ_MIN_BYTES = 1 << 20;

/** `TENSORBIND_DIRECT_BODY=0` keeps every body on node:http's path (for a proxy that mishandles `Connection: close`, or to compare). */
const enabled = process.env.TENSORBIND_DIRECT_BODY !== "0";

interface DupFdAddon {
  /** A new descriptor (close-on-exec) for the same open socket. */
  dupFd(fd: number): number;
}

/** node:http's socket, with the internal fields this module relies on (all present since Node 18; each is optional here). */
type HttpSocket = Socket & {
  _handle?: { fd?: number; readStop?: () => number; readStart?: () => number } | null;
  encrypted?: boolean;
  /** node:http's parser; `remove()` takes the connection off the server's request-timeout list. */
  parser?: { remove?: () => void } | null;
};

/** Bodies being read, so that tests can see none is left behind. */
const reading = new Set<Socket>();
let addon: DupFdAddon | null | undefined;

function dupAddon(): DupFdAddon | undefined {
  addon ??= optionalShmAddon<DupFdAddon>("dupFd") ?? null;
  return addon ?? undefined;
}

const readPastParser = new WeakSet<IncomingMessage>();

const cut = () => new InvalidArgumentError("client closed the connection before sending the whole body");

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

/** Test hook: how many bodies are being read past the parser in this thread. */
export function directReadsInFlight(): number {
  return reading.size;
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
  const addon = dupAddon();
  if (addon === undefined) return undefined;

  // Stop node:http reading this socket, for good: our own socket owns its bytes from here on,
  // and node:http restarts reading from several places (its resume and drain handlers, a dumped
  // request), any of which would take body bytes from under the reader; all go through readStart.
  handle.readStop?.();
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
  addon: DupFdAddon,
): Promise<void> {
  if (socket.destroyed) throw cut();
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
  const end = into.byteLength;
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const finish = (error: Error | undefined) => {
      if (settled) return;
      settled = true;
      socket.off("close", onClose);
      socket.off("finish", onFinish);
      reading.delete(reader);
      reader.destroy(); // closes the duplicate only
      if (error !== undefined) return reject(error);
      bodyIn(req, socket);
      resolve();
    };
    // Each read lands where the last one stopped, never past the body's end (bytes after it are
    // not this request's); `onread` sockets emit no 'data', the callback sees every read.
    const options = {
      fd: addon.dupFd(fd),
      readable: true,
      writable: false,
      allowHalfOpen: true, // its end must never shut down the connection node:http answers on
      onread: {
        buffer: () => into.subarray(pos, end),
        callback: (n: number) => {
          pos += n;
          if (pos < end) return true;
          process.nextTick(finish, undefined); // not inside node's read callback
          return false;
        },
      },
    };
    const reader = new Socket(options as ConstructorParameters<typeof Socket>[0]);
    reading.add(reader);
    const onClose = () => finish(cut());
    // The write side ended before the body was in: node:http timed the request out (408) or the
    // server is going away; nothing more will be read, so the connection goes now.
    const onFinish = () => socket.destroy();
    reader.once("end", () => finish(cut()));
    reader.once("error", (err) =>
      finish(new InvalidArgumentError(`reading the request body failed: ${err.message}`)),
    );
    reader.resume();
    socket.once("close", onClose);
    socket.once("finish", onFinish);
  });
}
