import { pino } from "pino";

export type Logger = pino.Logger;
export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

/** Structured JSON logs (pino) to stderr, so stdout stays free for a program's own output. */
export function createLogger(level: LogLevel = "info"): Logger {
  return pino({ level, base: { name: "tensorbind" } }, pino.destination(2));
}

export const silentLogger: Logger = pino({ level: "silent" });
