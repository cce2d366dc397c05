import { Writable } from "node:stream";
import { pino } from "pino";
import type { Logger } from "../../../src/core/logger.js";

/** A pino logger that keeps its lines, so a test can assert what was (not) logged. */
export function capturingLogger(level = "debug"): {
  logger: Logger;
  lines: () => { level: number; msg: string }[];
} {
  const out: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      out.push(String(chunk));
      done();
    },
  });
  return {
    logger: pino({ level }, sink) as unknown as Logger,
    lines: () =>
      out
        .join("")
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => JSON.parse(l) as { level: number; msg: string }),
  };
}
