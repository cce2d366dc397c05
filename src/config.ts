// Over 400 lines on purpose: every server option in one place (type, default, environment
// variable, check), so that an option is added or read in one file.

import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { ConfigError } from "./core/errors.js";
import type { Logger, LogLevel } from "./core/logger.js";
import { type ApiRestriction, parseRestrictedApi } from "./core/restricted-api.js";
import type { Registry } from "./model/registry.js";

/**
 * Server settings. Each has a `serve()` option, a `TENSORBIND_*` environment variable and a
 * CLI flag named like Triton's; precedence is explicit option > environment > default.
 */
export interface ServeOptions {
  /** HTTP port (default 8000; 0 picks a free port; false disables HTTP). */
  http?: number | false;
  /** gRPC port (default 8001; 0 picks a free port; false disables gRPC). */
  grpc?: number | false;
  /** Prometheus metrics port, `GET /metrics` (default 8002; 0 picks a free port; false disables metrics). */
  metrics?: number | false;
  /** Interface to listen on (default 127.0.0.1; "0.0.0.0" exposes the server and is logged loudly). */
  host?: string;
  /** Interface for gRPC only (Triton's --grpc-address); default: `host`. */
  grpcHost?: string;
  /**
   * Largest gRPC message received, checked while it is decompressed (default: `maxBodyBytes`,
   * so one limit covers both protocols; Triton's 2 GiB let a 2 MiB gzip message take gigabytes).
   */
  grpcMaxReceiveBytes?: number;
  /** Largest gRPC message sent (default 2 GiB - 1). */
  grpcMaxSendBytes?: number;
  /** Interval of the server's keepalive pings on idle gRPC connections (default 7 200 000 ms, Triton's). */
  grpcKeepaliveTimeMs?: number;
  /** A keepalive ping unanswered this long drops the connection (default 20 000 ms). */
  grpcKeepaliveTimeoutMs?: number;
  /**
   * Triton's client-ping policy. Accepted so Triton command lines run, but grpc-js answers every
   * client ping and never sends GOAWAY for too many, so it has no effect (a warning says so).
   */
  grpcKeepalivePermitWithoutCalls?: boolean;
  /** Triton's shortest interval between client pings without data: no effect, as above. */
  grpcMinPingIntervalMs?: number;
  /**
   * HTTP/2 receive window of each gRPC stream, in bytes (default 16 MiB; the connection's is 4×).
   * Node's default of 64 KiB makes a client wait for a window update every 64 KiB of a large request.
   */
  grpcFlowControlWindowBytes?: number;
  /** Server id reported in server metadata (Triton's --id). */
  id?: string;
  logLevel?: LogLevel;
  /** Use this logger instead of creating one. */
  logger?: Logger;
  /** Where the server may write (sockets, shared-memory bookkeeping); default: a private temp dir. */
  runtimeDir?: string;
  /** Largest request body, after decompression (default 64 MiB). */
  maxBodyBytes?: number;
  /**
   * Largest JSON part of an HTTP infer request (default 8 MiB): the whole body, or the header
   * before binary tensors. Parsing holds the event loop (25-60 ms per MiB measured), so JSON
   * is capped apart from binary data; send large tensors in binary form.
   */
  maxJsonBytes?: number;
  /** Most inputs one infer request may hold (default 1024). */
  maxInputs?: number;
  /** Most outputs one infer request may ask for (default 1024). */
  maxOutputs?: number;
  /** Most parameters of a request, and of each of its tensors (default 256). */
  maxParameters?: number;
  /** Largest HTTP request head (default 64 KiB). */
  maxHeaderBytes?: number;
  /** Time allowed to receive a whole HTTP request (default 120 s). */
  requestTimeoutMs?: number;
  /** Idle keep-alive connections are closed after this (default 75 s). */
  keepAliveTimeoutMs?: number;
  /** How long close() waits for in-flight requests before dropping connections (default 30 s). */
  shutdownGraceMs?: number;
  /**
   * On close(), readiness turns false and the server keeps serving this long before it stops
   * accepting connections (default 0), so that load balancers and Kubernetes probes see
   * `ready: false` and stop sending new requests first (docs/DEPLOY.md).
   */
  shutdownDelayMs?: number;
  /** Request headers matching this pattern become request parameters (Triton's --http-header-forward-pattern). */
  headerForwardPattern?: string | RegExp;
  /** Once ready, write `{ "http": url, "grpc": url, "pid": n }` here (for scripts using port 0). */
  readyFile?: string;
  /** Serve this registry instead of the process-wide one `bind()` fills. */
  registry?: Registry;
  /** How often GPU and CPU metrics are sampled (default 2000 ms, Triton's --metrics-interval-ms). */
  metricsIntervalMs?: number;
  /** Report GPU metrics from nvidia-smi when NVIDIA GPUs are present (default true). */
  gpuMetrics?: boolean;
  /** Report CPU utilisation and memory (default true). */
  cpuMetrics?: boolean;
  /** The nvidia-smi executable for GPU metrics: a name on PATH or a path (default "nvidia-smi"). */
  nvidiaSmi?: string;
  /** Serve the live dashboard page at `GET /` on the HTTP port (default true). */
  dashboard?: boolean;
  /** Log every inference request with its ids and stage timings (default false). */
  logRequests?: boolean;
  /**
   * The shared-memory extensions clients may use: "off", "system" (POSIX shared memory) or
   * "all" (system and CUDA). Default: "all" when every port listens on loopback, else "off"
   * (docs/SHARED_MEMORY.md).
   */
  shmExtension?: "off" | "system" | "all";
  /** Whether shared-memory status answers show the regions' keys (default false). */
  shmStatusKeys?: boolean;
  /**
   * API groups answered only when a header carries a value, Triton's syntax
   * `<api>[,<api>…]:<header>=<value>` (e.g. "shared-memory:admin-key=s3cret"); HTTP headers and gRPC metadata.
   */
  restrictedApi?: string | readonly string[];
  /** Triton model repositories to serve beside the bound models (docs/REPOSITORY.md). */
  modelRepository?: string | readonly string[];
  /** none (default): load every repository model at start; poll: follow changes; explicit: load on request. */
  modelControlMode?: "none" | "poll" | "explicit";
  /** With explicit model control: the models loaded at start ("*": all). */
  loadModels?: readonly string[];
  /** With poll: seconds between repository scans (default 15). */
  repositoryPollSecs?: number;
  /** Development: reload a repository model within a second of a change to its files (beyond Triton). */
  watch?: boolean;
  /**
   * Host names the HTTP port answers to besides localhost, 127.0.0.1 and ::1 while it listens on
   * loopback (DNS-rebinding protection); env: comma-separated.
   */
  allowedHosts?: string | readonly string[];
  /** Accept POSTs with form-encodable bodies (text/plain, …) from browsers (default false). */
  allowBrowserForms?: boolean;
  /** TLS for the HTTP and gRPC ports: the server's certificate chain (PEM file). */
  tlsCertFile?: string;
  /** The certificate's private key (PEM file). */
  tlsKeyFile?: string;
  /** With a CA (PEM file), clients must present a certificate it signed (mutual TLS). */
  tlsCaFile?: string;
  /** Every request must carry `Authorization: Bearer <token>` (gRPC: `authorization` metadata). */
  authToken?: string;
  /** Read the bearer token from this file (trailing newline ignored); keeps it out of `ps`. */
  authTokenFile?: string;
  /** Health endpoints (live, ready, model ready, grpc.health.v1) answer without the token (default false). */
  authOpenHealth?: boolean;
  /** Triton's restricted APIs for HTTP: `API[,API]:KEY=VALUE` each (env: separated by `;`). */
  httpRestrictedApi?: string | readonly string[];
  /** Triton's restricted APIs for gRPC: `API[,API]:KEY=VALUE` each (env: separated by `;`). */
  grpcRestrictedApi?: string | readonly string[];
  /**
   * Event loops taking requests in on the HTTP and gRPC ports: with more than one, each is a
   * frontend thread sharing the ports (SO_REUSEPORT, Node >= 22.12 on Linux) and feeding the same
   * models (docs/DESIGN.md, "Every core serves"). Default "auto": 1 below 8 cores, else one per
   * four cores, at most 4.
   */
  workers?: number | "auto";
  /**
   * Cap on the shared memory of all Python models' arenas together, in bytes or with a unit
   * ("512MiB", "2GiB"; default: none). A request that would go past it gets 503 /
   * RESOURCE_EXHAUSTED naming the limit; keep it below the free space of /dev/shm.
   */
  shmLimit?: number | string;
}

export interface ResolvedConfig {
  readonly http: number | false;
  readonly grpc: number | false;
  readonly metrics: number | false;
  readonly host: string;
  readonly grpcHost: string;
  readonly grpcMaxReceiveBytes: number;
  readonly grpcMaxSendBytes: number;
  readonly grpcKeepaliveTimeMs: number;
  readonly grpcKeepaliveTimeoutMs: number;
  readonly grpcKeepalivePermitWithoutCalls: boolean;
  readonly grpcMinPingIntervalMs: number;
  readonly grpcFlowControlWindowBytes: number;
  readonly id: string;
  readonly logLevel: LogLevel;
  readonly runtimeDir: string | undefined;
  readonly maxBodyBytes: number;
  readonly maxJsonBytes: number;
  readonly maxInputs: number;
  readonly maxOutputs: number;
  readonly maxParameters: number;
  readonly maxHeaderBytes: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly shutdownGraceMs: number;
  readonly shutdownDelayMs: number;
  readonly headerForwardPattern: RegExp | undefined;
  readonly readyFile: string | undefined;
  readonly metricsIntervalMs: number;
  readonly gpuMetrics: boolean;
  readonly cpuMetrics: boolean;
  readonly nvidiaSmi: string;
  readonly dashboard: boolean;
  readonly logRequests: boolean;
  /** undefined: decided by serve() from the listening interfaces. */
  readonly shmExtension: "off" | "system" | "all" | undefined;
  readonly shmStatusKeys: boolean;
  readonly restrictedApi: readonly ApiRestriction[];
  readonly allowedHosts: readonly string[];
  readonly allowBrowserForms: boolean;
  readonly tls: TlsFiles | undefined;
  readonly authToken: string | undefined;
  readonly authOpenHealth: boolean;
  readonly httpRestrictedApi: readonly ApiRestriction[];
  readonly grpcRestrictedApi: readonly ApiRestriction[];
  readonly workers: number;
  /** Bytes; Infinity for none. */
  readonly shmLimit: number;
}

export const DEFAULTS = {
  http: 8000,
  grpc: 8001,
  metrics: 8002,
  host: "127.0.0.1",
  id: "tensorbind",
  logLevel: "info",
  maxBodyBytes: 64 * 1024 * 1024,
  maxJsonBytes: 8 * 1024 * 1024,
  maxInputs: 1024,
  maxOutputs: 1024,
  maxParameters: 256,
  maxHeaderBytes: 64 * 1024,
  requestTimeoutMs: 120_000,
  keepAliveTimeoutMs: 75_000,
  shutdownGraceMs: 30_000,
  shutdownDelayMs: 0,
  // Received gRPC messages default to maxBodyBytes (resolveConfig); sent ones and keepalive
  // follow Triton's --grpc-* defaults.
  grpcMaxReceiveBytes: 64 * 1024 * 1024,
  grpcMaxSendBytes: 2 ** 31 - 1,
  grpcKeepaliveTimeMs: 7_200_000,
  grpcKeepaliveTimeoutMs: 20_000,
  grpcKeepalivePermitWithoutCalls: false,
  grpcMinPingIntervalMs: 300_000,
  grpcFlowControlWindowBytes: 16 << 20,
  metricsIntervalMs: 2000,
  gpuMetrics: true,
  cpuMetrics: true,
  nvidiaSmi: "nvidia-smi",
  dashboard: true,
  logRequests: false,
  shmStatusKeys: false,
  authOpenHealth: false,
  allowBrowserForms: false,
  workers: "auto",
} as const;

/** The environment variable behind each option. */
export const ENV_VARS = {
  http: "TENSORBIND_HTTP_PORT",
  grpc: "TENSORBIND_GRPC_PORT",
  metrics: "TENSORBIND_METRICS_PORT",
  host: "TENSORBIND_HOST",
  grpcHost: "TENSORBIND_GRPC_HOST",
  grpcMaxReceiveBytes: "TENSORBIND_GRPC_MAX_RECEIVE_BYTES",
  grpcMaxSendBytes: "TENSORBIND_GRPC_MAX_SEND_BYTES",
  grpcKeepaliveTimeMs: "TENSORBIND_GRPC_KEEPALIVE_TIME_MS",
  grpcKeepaliveTimeoutMs: "TENSORBIND_GRPC_KEEPALIVE_TIMEOUT_MS",
  grpcKeepalivePermitWithoutCalls: "TENSORBIND_GRPC_KEEPALIVE_PERMIT_WITHOUT_CALLS",
  grpcMinPingIntervalMs: "TENSORBIND_GRPC_MIN_PING_INTERVAL_MS",
  grpcFlowControlWindowBytes: "TENSORBIND_GRPC_FLOW_CONTROL_WINDOW",
  id: "TENSORBIND_ID",
  logLevel: "TENSORBIND_LOG_LEVEL",
  runtimeDir: "TENSORBIND_RUNTIME_DIR",
  maxBodyBytes: "TENSORBIND_MAX_BODY_BYTES",
  maxJsonBytes: "TENSORBIND_MAX_JSON_BYTES",
  maxInputs: "TENSORBIND_MAX_INPUTS",
  maxOutputs: "TENSORBIND_MAX_OUTPUTS",
  maxParameters: "TENSORBIND_MAX_PARAMETERS",
  maxHeaderBytes: "TENSORBIND_MAX_HEADER_BYTES",
  requestTimeoutMs: "TENSORBIND_REQUEST_TIMEOUT_MS",
  keepAliveTimeoutMs: "TENSORBIND_KEEPALIVE_TIMEOUT_MS",
  shutdownGraceMs: "TENSORBIND_SHUTDOWN_GRACE_MS",
  shutdownDelayMs: "TENSORBIND_SHUTDOWN_DELAY_MS",
  headerForwardPattern: "TENSORBIND_HTTP_HEADER_FORWARD_PATTERN",
  readyFile: "TENSORBIND_READY_FILE",
  metricsIntervalMs: "TENSORBIND_METRICS_INTERVAL_MS",
  gpuMetrics: "TENSORBIND_GPU_METRICS",
  cpuMetrics: "TENSORBIND_CPU_METRICS",
  nvidiaSmi: "TENSORBIND_NVIDIA_SMI",
  dashboard: "TENSORBIND_DASHBOARD",
  logRequests: "TENSORBIND_LOG_REQUESTS",
  shmExtension: "TENSORBIND_SHM_EXTENSION",
  shmStatusKeys: "TENSORBIND_SHM_STATUS_KEYS",
  restrictedApi: "TENSORBIND_RESTRICTED_API",
  allowedHosts: "TENSORBIND_ALLOWED_HOSTS",
  allowBrowserForms: "TENSORBIND_ALLOW_BROWSER_FORMS",
  tlsCertFile: "TENSORBIND_TLS_CERT_FILE",
  tlsKeyFile: "TENSORBIND_TLS_KEY_FILE",
  tlsCaFile: "TENSORBIND_TLS_CA_FILE",
  authToken: "TENSORBIND_AUTH_TOKEN",
  authTokenFile: "TENSORBIND_AUTH_TOKEN_FILE",
  authOpenHealth: "TENSORBIND_AUTH_OPEN_HEALTH",
  httpRestrictedApi: "TENSORBIND_HTTP_RESTRICTED_API",
  grpcRestrictedApi: "TENSORBIND_GRPC_RESTRICTED_API",
  workers: "TENSORBIND_WORKERS",
  shmLimit: "TENSORBIND_SHM_LIMIT",
} as const;

/** HTTP/2 windows lie between the protocol's default (65 535) and its maximum (2^31 - 1). */
function windowSize(n: number): number {
  if (n < 65_535 || n > 2 ** 31 - 1)
    throw new ConfigError(`invalid grpcFlowControlWindowBytes ${n}: use 65535 … 2147483647`);
  return n;
}
type FlagKey =
  | "grpcKeepalivePermitWithoutCalls"
  | "gpuMetrics"
  | "cpuMetrics"
  | "dashboard"
  | "logRequests"
  | "shmStatusKeys"
  | "authOpenHealth"
  | "allowBrowserForms";

/** true|1|yes|on and false|0|no|off, any case; undefined for anything else. */
export function parseBoolean(text: string): boolean | undefined {
  if (/^(true|1|yes|on)$/i.test(text)) return true;
  if (/^(false|0|no|off)$/i.test(text)) return false;
  return undefined;
}

const LOG_LEVELS: readonly LogLevel[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

export function resolveConfig(options: ServeOptions, env: NodeJS.ProcessEnv = process.env): ResolvedConfig {
  const pick = <K extends keyof typeof ENV_VARS>(key: K): unknown => {
    const v = options[key as keyof ServeOptions];
    if (v !== undefined) return v;
    const e = env[ENV_VARS[key]];
    return e === undefined || e === "" ? undefined : e;
  };
  const port = (key: "http" | "grpc" | "metrics"): number | false => {
    const v = pick(key);
    if (v === undefined) return DEFAULTS[key];
    if (v === false || v === "false" || v === "off") return false;
    const n = typeof v === "number" ? v : Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 65535)
      throw new ConfigError(`invalid ${key} port '${String(v)}'`);
    return n;
  };
  const flag = (key: FlagKey): boolean => {
    const v = pick(key);
    if (v === undefined) return DEFAULTS[key];
    const b = typeof v === "boolean" ? v : parseBoolean(String(v));
    if (b === undefined) throw new ConfigError(`invalid ${key} '${String(v)}': use true or false`);
    return b;
  };
  const positive = (
    key: Exclude<
      keyof typeof ENV_VARS & keyof typeof DEFAULTS,
      FlagKey | "nvidiaSmi" | "shmExtension" | "workers" | "shmLimit"
    >,
  ): number => {
    const v = pick(key);
    if (v === undefined) return DEFAULTS[key] as number;
    const n = typeof v === "number" ? v : Number(v);
    if (!Number.isSafeInteger(n) || n <= 0)
      throw new ConfigError(`invalid ${key} '${String(v)}': use a positive integer`);
    return n;
  };
  const nonNegative = (key: "shutdownDelayMs"): number => {
    const v = pick(key);
    if (v === undefined) return DEFAULTS[key];
    const n = typeof v === "number" ? v : Number(v);
    if (!Number.isSafeInteger(n) || n < 0)
      throw new ConfigError(`invalid ${key} '${String(v)}': use a non-negative integer`);
    return n;
  };
  const logLevel = (pick("logLevel") as LogLevel | undefined) ?? DEFAULTS.logLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError(`invalid log level '${logLevel}'`);
  const pattern = pick("headerForwardPattern") as string | RegExp | undefined;
  let headerForwardPattern: RegExp | undefined;
  try {
    headerForwardPattern =
      pattern === undefined ? undefined : pattern instanceof RegExp ? pattern : new RegExp(pattern, "i");
  } catch {
    throw new ConfigError(`invalid header forward pattern '${String(pattern)}'`);
  }
  return {
    http: port("http"),
    grpc: port("grpc"),
    metrics: port("metrics"),
    host: (pick("host") as string | undefined) ?? DEFAULTS.host,
    grpcHost:
      (pick("grpcHost") as string | undefined) ?? (pick("host") as string | undefined) ?? DEFAULTS.host,
    grpcMaxReceiveBytes:
      pick("grpcMaxReceiveBytes") === undefined ? positive("maxBodyBytes") : positive("grpcMaxReceiveBytes"),
    grpcMaxSendBytes: positive("grpcMaxSendBytes"),
    grpcKeepaliveTimeMs: positive("grpcKeepaliveTimeMs"),
    grpcKeepaliveTimeoutMs: positive("grpcKeepaliveTimeoutMs"),
    grpcKeepalivePermitWithoutCalls: flag("grpcKeepalivePermitWithoutCalls"),
    grpcMinPingIntervalMs: positive("grpcMinPingIntervalMs"),
    grpcFlowControlWindowBytes: windowSize(positive("grpcFlowControlWindowBytes")),
    id: (pick("id") as string | undefined) ?? DEFAULTS.id,
    logLevel,
    runtimeDir: pick("runtimeDir") as string | undefined,
    maxBodyBytes: positive("maxBodyBytes"),
    maxJsonBytes: positive("maxJsonBytes"),
    maxInputs: positive("maxInputs"),
    maxOutputs: positive("maxOutputs"),
    maxParameters: positive("maxParameters"),
    maxHeaderBytes: positive("maxHeaderBytes"),
    requestTimeoutMs: positive("requestTimeoutMs"),
    keepAliveTimeoutMs: positive("keepAliveTimeoutMs"),
    shutdownGraceMs: positive("shutdownGraceMs"),
    shutdownDelayMs: nonNegative("shutdownDelayMs"),
    headerForwardPattern,
    readyFile: pick("readyFile") as string | undefined,
    metricsIntervalMs: positive("metricsIntervalMs"),
    gpuMetrics: flag("gpuMetrics"),
    cpuMetrics: flag("cpuMetrics"),
    nvidiaSmi: (pick("nvidiaSmi") as string | undefined) ?? DEFAULTS.nvidiaSmi,
    dashboard: flag("dashboard"),
    logRequests: flag("logRequests"),
    shmExtension: shmMode(pick("shmExtension")),
    shmStatusKeys: flag("shmStatusKeys"),
    restrictedApi: restrictions(pick("restrictedApi")),
    allowedHosts: hostList(pick("allowedHosts")),
    allowBrowserForms: flag("allowBrowserForms"),
    tls: tlsFiles(
      pick("tlsCertFile") as string | undefined,
      pick("tlsKeyFile") as string | undefined,
      pick("tlsCaFile") as string | undefined,
    ),
    authToken: authToken(
      pick("authToken") as string | undefined,
      pick("authTokenFile") as string | undefined,
    ),
    authOpenHealth: flag("authOpenHealth"),
    httpRestrictedApi: restrictions(pick("httpRestrictedApi")),
    grpcRestrictedApi: restrictions(pick("grpcRestrictedApi")),
    workers: workers(pick("workers")),
    shmLimit: byteSize("shmLimit", pick("shmLimit")),
  };
}

function shmMode(v: unknown): "off" | "system" | "all" | undefined {
  if (v === undefined) return undefined;
  if (v === "off" || v === "system" || v === "all") return v;
  throw new ConfigError(`invalid shmExtension '${String(v)}': use off, system or all`);
}

function hostList(v: unknown): string[] {
  if (v === undefined) return [];
  const list = typeof v === "string" ? v.split(",") : (v as readonly string[]);
  return list.map((h) => h.trim().toLowerCase()).filter((h) => h !== "");
}

/** Certificate files for TLS on the HTTP and gRPC ports. */
export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile?: string;
}

function tlsFiles(cert?: string, key?: string, ca?: string): TlsFiles | undefined {
  if (cert === undefined && key === undefined) {
    if (ca !== undefined) throw new ConfigError("a TLS CA file needs a certificate and key file too");
    return undefined;
  }
  if (cert === undefined || key === undefined)
    throw new ConfigError("TLS needs both a certificate file and a key file");
  for (const f of [cert, key, ...(ca === undefined ? [] : [ca])]) {
    try {
      readFileSync(f);
    } catch (err) {
      throw new ConfigError(`cannot read TLS file '${f}': ${(err as Error).message}`);
    }
  }
  return { certFile: cert, keyFile: key, ...(ca !== undefined && { caFile: ca }) };
}

function authToken(token: string | undefined, file: string | undefined): string | undefined {
  if (token !== undefined && file !== undefined)
    throw new ConfigError("give the auth token or a file holding it, not both");
  if (file === undefined) return token;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(`cannot read the auth token file '${file}': ${(err as Error).message}`);
  }
  const t = text.replace(/\r?\n$/, "");
  if (t === "" || /\s/.test(t)) throw new ConfigError(`the auth token file '${file}' must hold one token`);
  return t;
}

/** One spec, several (an array, or `;`-separated in the environment). */
function restrictions(v: unknown): ApiRestriction[] {
  if (v === undefined) return [];
  const specs = typeof v === "string" ? v.split(";") : (v as string[]);
  return specs.filter((s) => s.trim() !== "").map(parseRestrictedApi);
}

/**
 * The frontend event loops for `workers`. "auto" (the default) is 1 below 8 cores — there a
 * second event loop competes with the models, their Python workers and the kernel's network
 * stack for too few cores — and one per four cores above, at most 4: the best of 1, 4 and 8 on
 * a 16-core GPU host (docs/PERFORMANCE.md, P7). Node.js older than 22.12 cannot share a port: 1.
 */
export function workers(v: unknown, cores = availableParallelism(), node = process.versions.node): number {
  if (v === undefined || v === "auto")
    return supportsReusePort(node) && cores >= 8 ? Math.min(4, Math.floor(cores / 4)) : 1;
  const n = typeof v === "number" ? v : Number(v);
  if (!Number.isSafeInteger(n) || n < 1 || n > 64)
    throw new ConfigError(`invalid workers '${String(v)}': use 1 … 64 or auto`);
  return n;
}

/** SO_REUSEPORT for several listeners on one port came with Node 22.12 (and 23.1). */
export function supportsReusePort(version = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split(".").map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}

/** Triton's client-ping policy settings, which grpc-js servers do not enforce: said once at start. */
export function warnIgnoredPingSettings(config: ResolvedConfig, log: Logger): void {
  const set: string[] = [];
  if (config.grpcKeepalivePermitWithoutCalls !== DEFAULTS.grpcKeepalivePermitWithoutCalls)
    set.push("grpc-keepalive-permit-without-calls");
  if (config.grpcMinPingIntervalMs !== DEFAULTS.grpcMinPingIntervalMs)
    set.push("grpc-http2-min-recv-ping-interval-without-data");
  if (set.length > 0)
    log.warn({ settings: set }, "these gRPC ping settings have no effect: grpc-js answers every client ping");
}

const UNITS: Readonly<Record<string, number>> = {
  "": 1,
  k: 2 ** 10,
  kb: 1e3,
  kib: 2 ** 10,
  m: 2 ** 20,
  mb: 1e6,
  mib: 2 ** 20,
  g: 2 ** 30,
  gb: 1e9,
  gib: 2 ** 30,
};

/** A byte count: a number, or a string with an optional unit ("64MiB", "1g"); Infinity when unset. */
export function byteSize(key: string, v: unknown): number {
  if (v === undefined || v === "") return Number.POSITIVE_INFINITY;
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-z]*)\s*$/i.exec(String(v));
  const unit = m === null ? undefined : UNITS[m[2]!.toLowerCase()];
  const n = m === null || unit === undefined ? Number.NaN : Math.floor(Number(m[1]) * unit);
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new ConfigError(`invalid ${key} '${String(v)}': use a number of bytes, e.g. 536870912 or 512MiB`);
  return n;
}
