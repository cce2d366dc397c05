import { connect } from "node:net";

/** Sends raw bytes over a fresh TCP connection and resolves with the status line's code and the whole response text. */
export function rawRequest(
  url: string,
  parts: (string | Buffer)[],
  opts: { delayMs?: number; timeoutMs?: number } = {},
): Promise<{ status: number; text: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("raw request timed out"));
    }, opts.timeoutMs ?? 10_000);
    socket.on("data", (c) => chunks.push(c));
    socket.on("error", () => {}); // the server may reset after answering
    socket.on("close", () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString("latin1");
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text });
    });
    socket.on("connect", async () => {
      for (const p of parts) {
        if (socket.destroyed) return;
        socket.write(p);
        if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
      }
    });
  });
}

/**
 * Opens a fresh TCP connection (no pooled keep-alive socket) to see whether anything still
 * listens; resolves once connected (and closes it), rejects with the socket's error.
 */
export function connectOnce(url: string): Promise<void> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), hostname, () => {
      s.destroy();
      resolve();
    });
    s.on("error", reject);
  });
}
