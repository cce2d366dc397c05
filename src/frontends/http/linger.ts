import type { IncomingMessage, ServerResponse } from "node:http";

/** How long, and how many bytes, a refused body is read and discarded before the socket closes. */
const LINGER_MS = 5000;

/**
 * For a response sent before the request body was read: says `Connection: close` (so pooling
 * clients do not reuse a connection whose unread body would be parsed as the next request), and
 * closes gracefully. The write side ends first, then the rest of the body is read and discarded
 * until it ends (bounded by time and `maxDiscardBytes`): closing with unread data makes the
 * kernel send a reset, and a client still sending its body would see that instead of the answer.
 */
export function closeAfterResponse(req: IncomingMessage, res: ServerResponse, maxDiscardBytes: number): void {
  if (!res.headersSent) res.setHeader("Connection", "close");
  const socket = req.socket;
  // node:http ends a `Connection: close` response with socket.destroySoon(): end and destroy,
  // which resets a client still sending. This socket instead ends its write side and lingers.
  socket.destroySoon = () => {
    socket.end();
    let discarded = 0;
    const done = () => socket.destroy();
    const timer = setTimeout(done, LINGER_MS);
    timer.unref();
    socket.once("close", () => clearTimeout(timer));
    req.removeAllListeners("data");
    req.on("data", (chunk: Buffer) => {
      discarded += chunk.length;
      if (discarded > maxDiscardBytes) done();
    });
    req.once("end", done);
    req.once("error", done);
    req.resume();
    if (req.complete) done();
  };
}
