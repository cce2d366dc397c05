import { pino } from "pino";
import { prettyLine } from "./log-pretty.js";

export type Logger = pino.Logger;
export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
export type LogFormat = "json" | "pretty";

/**
 * Logs (pino) to stderr, so stdout stays free for a program's own output: readable lines at a
 * terminal, one JSON object per line otherwise (or always, with TENSORBIND_LOG_FORMAT=json).
 */
export function createLogger(level: LogLevel = "info", format: LogFormat = defaultLogFormat()): Logger {
  const options = { level, base: { name: "tensorbind" } };
  if (format === "json") return pino(options, pino.destination(2));
  const colour = process.stderr.isTTY === true && process.env.NO_COLOR === undefined;
  const out = pino.destination({ fd: 2, sync: true });
  return pino(options, { write: (line: string) => void out.write(prettyLine(line, colour)) });
}

/** `TENSORBIND_LOG_FORMAT` (json | pretty), else pretty at a terminal and JSON otherwise. */
export function defaultLogFormat(): LogFormat {
  const f = process.env.TENSORBIND_LOG_FORMAT;
  if (f === "json" || f === "pretty") return f;
  return process.stderr.isTTY ? "pretty" : "json";
}

export const silentLogger: Logger = pino({ level: "silent" });
