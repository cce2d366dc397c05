import type { IncomingMessage, ServerResponse } from "node:http";
import { promisify } from "node:util";
import zlib from "node:zlib";
import {
  InvalidArgumentError,
  ResourceExhaustedError,
  UnsupportedMediaTypeError,
} from "../../core/errors.js";
import { readBodyPastParser } from "./socket-body.js";

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);

/**
 * Reads a request body into one buffer, enforcing the size limit while it streams in (a
 * declared Content-Length over the limit is refused before reading), then decompresses
 * gzip/deflate bodies with the same limit on the output, so a decompression bomb stops at the limit.
 */
export async function readBody(
  req: IncomingMessage,
  maxBytes: number,
  what = "request body",
): Promise<Buffer> {
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > maxBytes) {
    throw new ResourceExhaustedError(`${what} of ${declared} bytes exceeds the limit of ${maxBytes} bytes`);
  }
  const encoding = (req.headers["content-encoding"] ?? "identity").toLowerCase().trim();
  if (!["identity", "gzip", "deflate", "x-gzip"].includes(encoding)) {
    throw new UnsupportedMediaTypeError(`unsupported Content-Encoding '${encoding}'; use gzip or deflate`);
  }
  const raw = await collect(req, maxBytes, what);
  if (encoding === "identity") return raw;
  try {
    const opts = { maxOutputLength: maxBytes };
    return encoding === "deflate" ? await inflate(raw, opts) : await gunzip(raw, opts);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE" || err instanceof RangeError) {
      throw new ResourceExhaustedError(`decompressed ${what} exceeds the limit of ${maxBytes} bytes`);
    }
    throw new InvalidArgumentError(`request body is not valid ${encoding} data`);
  }
}

function collect(req: IncomingMessage, maxBytes: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  return consume(req, {
    data(chunk) {
      size += chunk.length;
      if (size > maxBytes)
        return new ResourceExhaustedError(`${what} exceeds the limit of ${maxBytes} bytes`);
      chunks.push(chunk);
      return undefined;
    },
    end: () => (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)),
  });
}

/**
 * Streams a request's body through `data` (which returns an error to stop reading) and settles
 * with `end`'s result or an error; a failed or aborted stream is a clear InvalidArgumentError.
 * On a refused body reading pauses, and the response closes the connection so nothing more is
 * buffered.
 */
function consume<T>(
  req: IncomingMessage,
  on: { data(chunk: Buffer): Error | undefined; end(): T | Error },
): Promise<T> {
  return new Promise((resolve, reject) => {
    const settle = (result: T | Error) => {
      cleanup();
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    const onData = (chunk: Buffer) => {
      const refused = on.data(chunk);
      if (refused === undefined) return;
      req.pause();
      settle(refused);
    };
    const onEnd = () => settle(on.end());
    const onError = (err: Error) =>
      settle(new InvalidArgumentError(`failed to read request body: ${err.message}`));
    const onAborted = () =>
      settle(new InvalidArgumentError("client closed the connection before sending the whole body"));
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("aborted", onAborted);
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("aborted", onAborted);
  });
}

/**
 * Where a binary body should go: its Content-Length (identity encoding only) and the offset of
 * its first tensor byte (the JSON header's length), or undefined when the body must be collected.
 */
export function binaryBodyLayout(
  req: IncomingMessage,
  headerLength: string | undefined,
  maxBytes: number,
): { byteLength: number; alignAt: number } | undefined {
  const declared = req.headers["content-length"];
  const encoding = (req.headers["content-encoding"] ?? "identity").toLowerCase().trim();
  if (declared === undefined || headerLength === undefined || encoding !== "identity") return undefined;
  if (!/^[0-9]{1,15}$/.test(declared) || !/^[0-9]{1,15}$/.test(headerLength.trim())) return undefined;
  const byteLength = Number(declared);
  const alignAt = Number(headerLength.trim());
  if (byteLength > maxBytes) {
    throw new ResourceExhaustedError(
      `request body of ${declared} bytes exceeds the limit of ${maxBytes} bytes`,
    );
  }
  if (byteLength === 0 || alignAt > byteLength) return undefined; // the codec reports the mistake
  return { byteLength, alignAt };
}

/**
 * Reads a body of exactly `into.byteLength` bytes (its Content-Length) from the socket into
 * memory lent for it: a large one straight from the socket (socket-body.ts), a small one
 * chunk by chunk as node:http parses it, with no concatenation.
 */
export function readBodyInto(req: IncomingMessage, res: ServerResponse, into: Uint8Array): Promise<Buffer> {
  const whole = () => Buffer.from(into.buffer, into.byteOffset, into.byteLength);
  const direct = readBodyPastParser(req, res, into);
  if (direct !== undefined) return direct.then(whole);
  let pos = 0;
  return consume(req, {
    data(chunk) {
      if (pos + chunk.length > into.byteLength)
        return new InvalidArgumentError(
          `request body is longer than its Content-Length (${into.byteLength})`,
        );
      into.set(chunk, pos);
      pos += chunk.length;
      return undefined;
    },
    end: (): Buffer | Error =>
      pos !== into.byteLength
        ? new InvalidArgumentError(`request body has ${pos} of its ${into.byteLength} bytes`)
        : whole(),
  });
}

/** Gives lent body memory back once the response is written or abandoned ('close' covers both). */
export function releaseWhenClosed(res: ServerResponse, release: () => void): void {
  if (res.writableFinished || res.destroyed) release();
  else res.once("close", release);
}
