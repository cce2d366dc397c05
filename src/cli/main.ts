// About 400 lines on purpose: the help text lists every Triton-named flag one per line, so that a
// flag's help line and its mapping to an option are read together (the flag table: flags.ts, which
// the Python head start parses too before this module loads).

import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { discardPrewarmed } from "../backends/python/prewarm.js";
import { defaultRegistry } from "../bind.js";
import { parseBoolean, type ServeOptions } from "../config.js";
import type { LogLevel } from "../core/logger.js";
import { VERSION } from "../core/version.js";
import { preloadForServe, serve } from "../server.js";
import { SERVE_FLAGS } from "./flags.js";
import { countBuffersInHeapLimit } from "./gc.js";
import { startPythonHeadStart } from "./python-head-start.js";
import { stopOnSignals } from "./signals.js";

export const HELP = `tensorbind ${VERSION}: serve functions behind a KServe v2 / Triton-compatible endpoint

Usage:
  tensorbind serve <module.ts|module.js|model.py> [...more] [options]
  tensorbind serve --model-repository DIR [...] [options]   a Triton model repository (docs/REPOSITORY.md)
  tensorbind health [url]          exit 0 when the server at url (default http://127.0.0.1:8000) is ready
  tensorbind --version

Options for serve (each also a TENSORBIND_* environment variable; a flag wins):
  --http-port <n>                  HTTP port (default 8000; 0 picks a free port)      TENSORBIND_HTTP_PORT
  --grpc-port <n>                  gRPC port (default 8001; 0 picks a free port)      TENSORBIND_GRPC_PORT
  --grpc-address <addr>            interface for gRPC only (default: --host)          TENSORBIND_GRPC_HOST
  --grpc-max-receive-bytes <n>     largest gRPC message received (--max-body-bytes)   TENSORBIND_GRPC_MAX_RECEIVE_BYTES
  --grpc-max-send-bytes <n>        largest gRPC message sent (2 GiB - 1)              TENSORBIND_GRPC_MAX_SEND_BYTES
  --grpc-keepalive-time <ms>       server keepalive ping interval (7200000)           TENSORBIND_GRPC_KEEPALIVE_TIME_MS
  --grpc-keepalive-timeout <ms>    drop a connection whose ping is unanswered (20000) TENSORBIND_GRPC_KEEPALIVE_TIMEOUT_MS
  --grpc-flow-control-window <bytes>  HTTP/2 receive window per stream (16 MiB)     TENSORBIND_GRPC_FLOW_CONTROL_WINDOW
  --metrics-port <n>               Prometheus port, GET /metrics (default 8002)       TENSORBIND_METRICS_PORT
  --metrics-interval-ms <n>        GPU/CPU metrics sampling interval (2000)           TENSORBIND_METRICS_INTERVAL_MS
  --allow-gpu-metrics <bool>       GPU metrics from nvidia-smi (true)                 TENSORBIND_GPU_METRICS
  --allow-cpu-metrics <bool>       CPU utilisation and memory metrics (true)          TENSORBIND_CPU_METRICS
  --nvidia-smi <path>              nvidia-smi for GPU metrics (default: on PATH)      TENSORBIND_NVIDIA_SMI
  --dashboard <bool>               live dashboard page at GET / on the HTTP port (true)  TENSORBIND_DASHBOARD
  --log-requests <bool>            log every request with ids and stage timings (false)  TENSORBIND_LOG_REQUESTS
  --shm-extension <off|system|all> shared-memory extensions clients may use (all on loopback, else off)  TENSORBIND_SHM_EXTENSION
  --shm-status-keys <bool>         shared-memory status shows region keys (false)    TENSORBIND_SHM_STATUS_KEYS
  --restricted-api <API[,API]:KEY=VALUE>  those APIs need header KEY=VALUE, HTTP and gRPC (repeatable)  TENSORBIND_RESTRICTED_API
  --allow-http <bool>, --allow-grpc <bool>, --allow-metrics <bool>   turn an endpoint off
  --host <addr>                    interface to listen on (default 127.0.0.1)          TENSORBIND_HOST
  --id <name>                      server id in server metadata (default tensorbind)   TENSORBIND_ID
  --log-verbose <n>                1 = debug, 2 = trace (Triton's flag)
  --log-level <level>              fatal|error|warn|info|debug|trace|silent           TENSORBIND_LOG_LEVEL
  --log-format <json|pretty>       readable lines at a terminal, JSON otherwise (default)  TENSORBIND_LOG_FORMAT
  --max-body-bytes <n>             largest request body after decompression (64 MiB)  TENSORBIND_MAX_BODY_BYTES
  --max-json-bytes <n>             largest JSON part of an infer request (8 MiB)       TENSORBIND_MAX_JSON_BYTES
  --max-inputs <n>, --max-outputs <n>, --max-parameters <n>  per request (1024, 1024, 256)  TENSORBIND_MAX_INPUTS …
  --request-timeout-ms <n>         time to receive a whole request (120000)           TENSORBIND_REQUEST_TIMEOUT_MS
  --shutdown-grace-ms <n>          drain time on SIGTERM before dropping (30000)      TENSORBIND_SHUTDOWN_GRACE_MS
  --shutdown-delay-ms <n>          on SIGTERM, not ready but still serving this long (0)  TENSORBIND_SHUTDOWN_DELAY_MS
  --http-header-forward-pattern <re>  forward matching headers as request parameters
  --runtime-dir <dir>              where the server may write (default: private temp dir)
  --ready-file <file>              write {"http":...,"grpc":...,"pid":...} once ready (pid: the server's own,
                                   to signal it when a wrapper such as npx does not pass signals on)
  --exit-with-parent <bool>        stop as on SIGTERM when the parent process dies (default: true
                                   when started by npm/npx, else false)             TENSORBIND_EXIT_WITH_PARENT
  --allowed-host <name>            a Host name accepted on loopback besides localhost (repeatable)  TENSORBIND_ALLOWED_HOSTS
  --allow-browser-forms <bool>     accept text/plain and form POSTs from browsers (false)  TENSORBIND_ALLOW_BROWSER_FORMS
  --tls-cert-file <pem>, --tls-key-file <pem>  TLS on the HTTP and gRPC ports       TENSORBIND_TLS_CERT_FILE, …_KEY_FILE
  --tls-ca-file <pem>              clients must present a certificate this CA signed  TENSORBIND_TLS_CA_FILE
  --auth-token <token>             require Authorization: Bearer <token> (prefer the file or env)  TENSORBIND_AUTH_TOKEN
  --auth-token-file <file>         read the bearer token from a file                  TENSORBIND_AUTH_TOKEN_FILE
  --auth-open-health <bool>        health endpoints answer without the token (false)  TENSORBIND_AUTH_OPEN_HEALTH
  --http-restricted-api <API[,API]:KEY=VALUE>  those APIs need header KEY=VALUE (repeatable)  TENSORBIND_HTTP_RESTRICTED_API
  --grpc-restricted-api <API[,API]:KEY=VALUE>  the same for gRPC metadata (repeatable)  TENSORBIND_GRPC_RESTRICTED_API
      APIs: health, metadata, inference, shared-memory, model-config, model-repository, statistics, trace, logging
  --python <interpreter>           Python for .py modules and python() models        TENSORBIND_PYTHON
  --model-repository <dir>         serve a Triton model repository (repeatable)      TENSORBIND_MODEL_REPOSITORY
  --model-control-mode <mode>      none (load all at start) | poll | explicit (load on request)
  --load-model <name>              with explicit control: load at start (repeatable; * for all)
  --repository-poll-secs <n>       with poll: seconds between repository scans (15)
  --shm-limit <bytes>              cap on Python models' shared memory (512MiB, 2GiB; none)  TENSORBIND_SHM_LIMIT
  --workers <n|auto>               event loops taking requests in on the shared ports (1)  TENSORBIND_WORKERS
  --watch                          development: reload a repository model when its files change
`;

/**
 * Runs the CLI and returns the exit code. A failure is one line on stderr (`tensorbind: …`);
 * what caused it (a Python traceback, a stack) follows only at debug level.
 */
export async function cli(argv: string[]): Promise<number> {
  try {
    return await main(argv);
  } catch (err) {
    reportError(err, wantsDebug(argv));
    return 1;
  }
}

function wantsDebug(argv: readonly string[]): boolean {
  const level = argv[argv.indexOf("--log-level") + 1] ?? process.env.TENSORBIND_LOG_LEVEL;
  const inline = argv.find((a) => a.startsWith("--log-level="))?.slice("--log-level=".length);
  return (
    ["debug", "trace"].includes(inline ?? level ?? "") ||
    argv.some((a) => a === "--log-verbose" || a.startsWith("--log-verbose="))
  );
}

function reportError(err: unknown, debug: boolean): void {
  const message = err instanceof Error ? err.message : String(err);
  const cause = err instanceof Error ? err.cause : undefined;
  const more = cause !== undefined && !debug ? " (details: --log-level debug)" : "";
  process.stderr.write(`tensorbind: ${message}${more}\n`);
  if (!debug) return;
  for (let c: unknown = cause; c !== undefined; c = c instanceof Error ? c.cause : undefined) {
    const text =
      c instanceof Error ? (c.name === "PythonTraceback" ? c.message : (c.stack ?? c.message)) : String(c);
    process.stderr.write(`${text}\n`);
  }
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "serve":
      return serveCommand(rest);
    case "health":
      return healthCommand(rest[0]);
    case "--version":
    case "-v":
      process.stdout.write(`${VERSION}\n`);
      return 0;
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(HELP);
      return command === undefined ? 1 : 0;
    default:
      process.stderr.write(
        `tensorbind: unknown command '${command}'${/\.([cm]?[jt]s|py)$/.test(command) ? ` (did you mean 'tensorbind serve ${command}'?)` : ""}; commands: serve, health; see tensorbind --help\n`,
      );
      return 2;
  }
}

/** Maps CLI flags to serve() options; unset flags stay unset so environment variables apply. */
export function serveOptionsFromFlags(
  values: Record<string, string | string[] | boolean | undefined>,
): ServeOptions {
  const opts: ServeOptions = {};
  const num = (flag: string): number | undefined => {
    const v = values[flag];
    if (v === undefined) return undefined;
    const n = Number(v);
    if (typeof v !== "string" || v.trim() === "" || !Number.isSafeInteger(n))
      throw new Error(`--${flag} needs an integer, got '${String(v)}'`);
    return n;
  };
  const port = (flag: string, allow: string): number | false | undefined => {
    const a = values[allow];
    if (a !== undefined && parseBoolean(String(a)) === false) return false;
    return num(flag);
  };
  const bool = (flag: string): boolean | undefined => {
    const v = values[flag];
    if (v === undefined) return undefined;
    const b = parseBoolean(String(v));
    if (b === undefined) throw new Error(`--${flag} needs true or false, got '${String(v)}'`);
    return b;
  };
  const set = <K extends keyof ServeOptions>(key: K, value: ServeOptions[K] | undefined) => {
    if (value !== undefined) opts[key] = value;
  };
  set("http", port("http-port", "allow-http"));
  set("grpc", port("grpc-port", "allow-grpc"));
  set("metrics", port("metrics-port", "allow-metrics"));
  set("host", (values.host ?? values["http-address"]) as string | undefined);
  set("id", values.id as string | undefined);
  set("grpcHost", values["grpc-address"] as string | undefined);
  set("grpcMaxReceiveBytes", num("grpc-max-receive-bytes"));
  set("grpcMaxSendBytes", num("grpc-max-send-bytes"));
  set("grpcKeepaliveTimeMs", num("grpc-keepalive-time"));
  set("grpcKeepaliveTimeoutMs", num("grpc-keepalive-timeout"));
  set("grpcKeepalivePermitWithoutCalls", bool("grpc-keepalive-permit-without-calls"));
  set("grpcMinPingIntervalMs", num("grpc-http2-min-recv-ping-interval-without-data"));
  set("grpcFlowControlWindowBytes", num("grpc-flow-control-window"));
  const verbose = num("log-verbose");
  set(
    "logLevel",
    (values["log-level"] as LogLevel | undefined) ??
      (verbose === undefined ? undefined : verbose >= 2 ? "trace" : verbose === 1 ? "debug" : "info"),
  );
  set("maxBodyBytes", num("max-body-bytes"));
  set("maxJsonBytes", num("max-json-bytes"));
  set("maxInputs", num("max-inputs"));
  set("maxOutputs", num("max-outputs"));
  set("maxParameters", num("max-parameters"));
  set("requestTimeoutMs", num("request-timeout-ms"));
  set("shutdownGraceMs", num("shutdown-grace-ms"));
  set("shutdownDelayMs", num("shutdown-delay-ms"));
  set("headerForwardPattern", values["http-header-forward-pattern"] as string | undefined);
  set("runtimeDir", values["runtime-dir"] as string | undefined);
  set("readyFile", values["ready-file"] as string | undefined);
  set("metricsIntervalMs", num("metrics-interval-ms"));
  set("gpuMetrics", bool("allow-gpu-metrics"));
  set("cpuMetrics", bool("allow-cpu-metrics"));
  set("nvidiaSmi", values["nvidia-smi"] as string | undefined);
  set("dashboard", bool("dashboard"));
  set("logRequests", bool("log-requests"));
  set("shmExtension", values["shm-extension"] as "off" | "system" | "all" | undefined);
  set("shmStatusKeys", bool("shm-status-keys"));
  set("restrictedApi", values["restricted-api"] as string[] | undefined);
  set("httpRestrictedApi", values["http-restricted-api"] as string[] | undefined);
  set("grpcRestrictedApi", values["grpc-restricted-api"] as string[] | undefined);
  set("allowedHosts", values["allowed-host"] as string[] | undefined);
  set("allowBrowserForms", bool("allow-browser-forms"));
  set("tlsCertFile", values["tls-cert-file"] as string | undefined);
  set("tlsKeyFile", values["tls-key-file"] as string | undefined);
  set("tlsCaFile", values["tls-ca-file"] as string | undefined);
  set("authToken", values["auth-token"] as string | undefined);
  set("authTokenFile", values["auth-token-file"] as string | undefined);
  set("authOpenHealth", bool("auth-open-health"));
  set("modelRepository", values["model-repository"] as string[] | undefined);
  const mode = values["model-control-mode"];
  if (mode !== undefined && mode !== "none" && mode !== "poll" && mode !== "explicit")
    throw new Error(`--model-control-mode needs none, poll or explicit, got '${String(mode)}'`);
  set("modelControlMode", mode);
  set("loadModels", values["load-model"] as string[] | undefined);
  set("repositoryPollSecs", num("repository-poll-secs"));
  set("workers", values.workers === "auto" ? "auto" : num("workers"));
  set("watch", values.watch === true ? true : undefined);
  set("shmLimit", values["shm-limit"] as string | undefined);
  return opts;
}

async function serveCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseServeArgs(args);
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (
    positionals.length === 0 &&
    values["model-repository"] === undefined &&
    !process.env.TENSORBIND_MODEL_REPOSITORY
  )
    throw new Error(
      "tensorbind serve needs a module that calls bind() or a model repository, e.g. tensorbind serve models.ts",
    );
  const options = serveOptionsFromFlags(values);
  // python() models bound by .ts modules read TENSORBIND_PYTHON, so the flag covers them too.
  if (values.python !== undefined) process.env.TENSORBIND_PYTHON = values.python;
  const format = values["log-format"];
  if (format !== undefined && format !== "json" && format !== "pretty")
    throw new Error(`--log-format needs json or pretty, got '${format}'`);
  if (format !== undefined) process.env.TENSORBIND_LOG_FORMAT = format;
  countBuffersInHeapLimit();
  startPythonHeadStart(args); // bin/tensorbind.js has started it already, unless main() runs on its own
  let server: Awaited<ReturnType<typeof serve>>;
  try {
    // While esbuild bundles a TypeScript module (or Python lists a .py file's models), this thread
    // loads what serve() will need.
    await loadModules(positionals, () => preloadForServe(options));
    server = await serve(options);
  } finally {
    discardPrewarmed();
  }
  if (exitWithParentWanted(values["exit-with-parent"])) watchParent();
  await stopOnSignals(server);
  return process.exitCode === undefined ? 0 : Number(process.exitCode);
}

function exitWithParentWanted(flag: string | undefined): boolean {
  const v = flag ?? process.env.TENSORBIND_EXIT_WITH_PARENT;
  if (v === undefined) return process.env.npm_command !== undefined; // npx and npm run do not always pass signals on
  const b = parseBoolean(v);
  if (b === undefined) throw new Error(`--exit-with-parent needs true or false, got '${v}'`);
  return b;
}

/**
 * `npx tensorbind serve … & kill $!` kills npx, not the server: when the parent goes away the
 * server is re-parented, which this notices and answers with a SIGTERM to itself (the usual
 * graceful stop).
 */
function watchParent(): void {
  const parent = currentParent();
  const timer = setInterval(() => {
    if (currentParent() === parent) return;
    clearInterval(timer);
    process.kill(process.pid, "SIGTERM");
  }, 500);
  timer.unref();
}

/** The parent pid now (`process.ppid` is read once at start-up). */
function currentParent(): number {
  try {
    const stat = readFileSync("/proc/self/stat", "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    try {
      process.kill(process.ppid, 0);
      return process.ppid;
    } catch {
      return 1;
    }
  }
}

function parseServeArgs(args: string[]) {
  try {
    return parseArgs({ args, options: SERVE_FLAGS, allowPositionals: true, strict: true });
  } catch (err) {
    const flag = /Unknown option '([^']+)'/.exec((err as Error).message)?.[1];
    if (flag === undefined) throw err;
    const near = suggestFlag(flag);
    throw new Error(
      `unknown option '${flag}'${near ? ` (did you mean --${near}?)` : ""}; see tensorbind serve --help`,
    );
  }
}

// Flags of other servers (Triton, uvicorn, …) that newcomers try first.
const FLAG_ALIASES: Readonly<Record<string, string>> = {
  port: "http-port",
  p: "http-port",
  "grpc-address": "grpc-address",
  address: "host",
  bind: "host",
  verbose: "log-verbose",
  v: "log-verbose",
  log: "log-level",
  "model-repository": "help",
};

/** The serve flag closest to a mistyped one (an alias, else at most 3 edits away). */
export function suggestFlag(flag: string): string | undefined {
  const name = flag.replace(/^-+/, "").split("=")[0] ?? "";
  if (FLAG_ALIASES[name] !== undefined) return FLAG_ALIASES[name];
  let best: { flag: string; d: number } | undefined;
  for (const candidate of Object.keys(SERVE_FLAGS)) {
    const d = editDistance(name, candidate);
    if (d <= 3 && (best === undefined || d < best.d)) best = { flag: candidate, d };
  }
  return best?.flag;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}

/** Loads each module in turn; a model name bound twice names both files. */
async function loadModules(files: readonly string[], whileWaiting?: () => void): Promise<void> {
  const boundBy = new Map<string, string>();
  for (const file of files) {
    try {
      await loadModule(file, whileWaiting);
    } catch (err) {
      const name = /model '([^']+)' version \S+ is already bound/.exec((err as Error).message)?.[1];
      const first = name === undefined ? undefined : boundBy.get(name);
      if (name === undefined || first === undefined) throw err;
      throw new Error(
        `model '${name}' is bound by both ${first} and ${file}: give one another name (bind({ name }) or @tensorbind.model(name=...))`,
      );
    }
    for (const m of defaultRegistry().list()) if (!boundBy.has(m.name)) boundBy.set(m.name, file);
  }
}

/** Imports a model module; TypeScript runs directly (bundled by esbuild, or through tsx), with no build step. */
async function loadModule(file: string, whileWaiting?: () => void): Promise<void> {
  const path = resolve(file);
  if (!existsSync(path)) throw new Error(`no such file: ${file}`);
  if (path.endsWith(".py")) {
    const { bindPythonFile } = await import("./python-file.js");
    const binding = bindPythonFile(path); // the listing runs in its own Python process meanwhile
    whileWaiting?.();
    await binding;
    return;
  }
  if (/\.[cm]?tsx?$/.test(path)) {
    const { importTypeScript } = await import("../repository/import-module.js");
    await importTypeScript(path, whileWaiting);
    return;
  }
  await import(pathToFileURL(path).href);
}

async function healthCommand(url = "http://127.0.0.1:8000"): Promise<number> {
  const base = url.replace(/\/+$/, "");
  try {
    const res = await fetch(`${base}/v2/health/ready`, { signal: AbortSignal.timeout(5000) });
    process.stdout.write(`${base}: ${res.status === 200 ? "ready" : `not ready (HTTP ${res.status})`}\n`);
    return res.status === 200 ? 0 : 1;
  } catch (err) {
    process.stdout.write(`${base}: unreachable (${(err as Error).message})\n`);
    return 1;
  }
}
