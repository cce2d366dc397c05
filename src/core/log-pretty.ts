/**
 * Readable log lines for a person at a terminal: `12:03:04 INFO  tensorbind is ready  key=value`.
 * The records are pino's JSON lines, reformatted; machines get the JSON unchanged.
 */

const LEVELS: Readonly<Record<number, string>> = {
  10: "TRACE",
  20: "DEBUG",
  30: "INFO ",
  40: "WARN ",
  50: "ERROR",
  60: "FATAL",
};
const COLOURS: Readonly<Record<number, string>> = { 40: "\x1b[33m", 50: "\x1b[31m", 60: "\x1b[31m" };
const SKIP = new Set(["level", "time", "name", "msg", "pid", "hostname", "banner", "err", "v"]);

/** One pino JSON line as one or more readable lines (a banner and a stack keep their lines). */
export function prettyLine(json: string, colour = false): string {
  let r: Record<string, unknown>;
  try {
    r = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith("\n") ? json : `${json}\n`;
  }
  if (Array.isArray(r.banner)) return `${(r.banner as string[]).join("\n")}\n`;
  const level = typeof r.level === "number" ? r.level : 30;
  const time = new Date(typeof r.time === "number" ? r.time : Date.now()).toTimeString().slice(0, 8);
  const tag = LEVELS[level] ?? String(level);
  const fields = Object.entries(r)
    .filter(([k]) => !SKIP.has(k))
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`);
  let text = `${time} ${colour && COLOURS[level] ? `${COLOURS[level]}${tag}\x1b[0m` : tag} ${String(r.msg ?? "")}`;
  if (fields.length > 0) text += `  ${fields.join(" ")}`;
  const err = r.err as { stack?: string; message?: string } | undefined;
  if (err !== undefined)
    text += `\n  ${(level >= 50 ? err.stack : undefined) ?? err.message ?? JSON.stringify(err)}`.replaceAll(
      "\n",
      "\n  ",
    );
  return `${text}\n`;
}
