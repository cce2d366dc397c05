import type { Server } from "../server.js";

/**
 * Resolves once the server has stopped on SIGTERM or SIGINT (a second signal exits at once).
 * Shutdown never waits on logging: a closed stdout or stderr (`tensorbind serve … | head`) makes
 * writes fail with EPIPE, which is ignored, and close() starts before anything is logged.
 */
export function stopOnSignals(server: Server): Promise<void> {
  ignoreBrokenPipes();
  const log = (fn: () => void) => {
    try {
      fn();
    } catch {
      // logging must not stop shutdown
    }
  };
  return new Promise<void>((done) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        log(() => server.log.warn({ signal }, "second signal: exiting now"));
        process.exit(1);
      }
      stopping = true;
      const closing = server.close();
      log(() => server.log.info({ signal }, "signal received"));
      // A backstop: whatever hangs, the process ends a while after the drain grace period.
      const { shutdownDelayMs, shutdownGraceMs } = server.config;
      setTimeout(() => process.exit(1), shutdownDelayMs + shutdownGraceMs + 10_000).unref();
      closing.then(done, (err: unknown) => {
        log(() => server.log.error({ err }, "error while shutting down"));
        process.exitCode = 1;
        done();
      });
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
  });
}

/** Writes to a pipe whose reader has gone fail with EPIPE: drop them instead of crashing or hanging. */
function ignoreBrokenPipes(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code !== "EPIPE") throw err;
    });
  }
}
