// Over 400 lines on purpose: the composition root, where every part the server is made of is
// built, wired and taken down in order; splitting it would hide that order.

import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { claimRuntimeDir, prepareSharedMemory, removeStaleRuntimeDirs } from "./backends/shm-startup.js";
import { defaultRegistry } from "./bind.js";
import type { FrontendPool } from "./cluster/frontend-pool.js";
import {
  type ResolvedConfig,
  resolveConfig,
  type ServeOptions,
  supportsReusePort,
  warnIgnoredPingSettings,
} from "./config.js";
import { AccessControl, type AccessOptions } from "./core/access.js";
import { ConfigError } from "./core/errors.js";
import { createLogger, type Logger } from "./core/logger.js";
import type { RequestLimits } from "./core/request-limits.js";
import type { ApiRestriction } from "./core/restricted-api.js";
import { dashboardHandler } from "./dashboard/handler.js";
import type { GrpcFrontend, GrpcOptions } from "./frontends/grpc/server.js";
import { HttpFrontend, type HttpOptions } from "./frontends/http/server.js";
import { MetricsServer } from "./metrics/metrics-server.js";
import { Telemetry } from "./metrics/telemetry.js";
import { InferenceEngine } from "./model/engine.js";
import type { Registry } from "./model/registry.js";
import type { ModelRepository } from "./repository/repository.js";
import { SharedMemoryRegistry } from "./shm/shared-memory.js";
import { requestLogger } from "./tracing/request-log.js";

export interface ServerUrls {
  /** e.g. http://127.0.0.1:8000 */
  readonly http?: string;
  /** host:port, as gRPC clients take it */
  readonly grpc?: string;
  /** The Prometheus endpoint, e.g. http://127.0.0.1:8002/metrics */
  readonly metrics?: string;
}

/**
 * A running server, as `serve()` returns it: its URLs, configuration and log, and `close()`.
 *
 * @example
 * const server = await serve({ http: 0, grpc: 0 });
 * console.log(server.urls.http, server.urls.grpc);
 * await server.close();
 */
export class Server {
  readonly urls: ServerUrls;
  readonly config: ResolvedConfig;
  readonly log: Logger;
  readonly runtimeDir: string;
  readonly #core: InferenceEngine;
  readonly #registry: Registry;
  readonly #http: HttpFrontend | undefined;
  readonly #grpc: GrpcFrontend | undefined;
  readonly #telemetry: Telemetry | undefined;
  readonly #metrics: MetricsServer | undefined;
  readonly #repository: ModelRepository | undefined;
  readonly #frontends: FrontendPool | undefined;
  readonly #ownsRuntimeDir: boolean;
  #closing: Promise<void> | undefined;

  /** @internal use serve() */
  constructor(parts: {
    urls: ServerUrls;
    config: ResolvedConfig;
    log: Logger;
    runtimeDir: string;
    ownsRuntimeDir: boolean;
    core: InferenceEngine;
    registry: Registry;
    http: HttpFrontend | undefined;
    grpc: GrpcFrontend | undefined;
    telemetry?: Telemetry | undefined;
    metrics?: MetricsServer | undefined;
    repository?: ModelRepository | undefined;
    frontends?: FrontendPool | undefined;
  }) {
    this.urls = parts.urls;
    this.config = parts.config;
    this.log = parts.log;
    this.runtimeDir = parts.runtimeDir;
    this.#ownsRuntimeDir = parts.ownsRuntimeDir;
    this.#core = parts.core;
    this.#registry = parts.registry;
    this.#http = parts.http;
    this.#grpc = parts.grpc;
    this.#telemetry = parts.telemetry;
    this.#metrics = parts.metrics;
    this.#repository = parts.repository;
    this.#frontends = parts.frontends;
  }

  /** @internal The frontend threads, when `workers` > 1 (tests). */
  get frontendPool(): FrontendPool | undefined {
    return this.#frontends;
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Stops the server: readiness flips to false (and the server keeps serving for
   * `shutdownDelayMs`), then no new connections are accepted, in-flight
   * requests are answered (up to the shutdown grace period), models are unloaded, and the
   * runtime dir is removed. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#core.setReady(false);
    this.#frontends?.readyChanged(false);
    const delay = this.config.shutdownDelayMs;
    if (delay > 0) {
      // Not ready, still serving: balancers polling readiness take this replica out before it
      // stops accepting connections, so no client meets a closed port.
      this.log.info({ delayMs: delay }, "shutting down: not ready, still serving until the delay ends");
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
    this.log.info("shutting down: draining in-flight requests");
    const grace = setTimeout(() => {
      this.log.warn("shutdown grace period passed; dropping remaining connections");
      this.#http?.destroyConnections();
      this.#grpc?.forceShutdown();
      this.#frontends?.forceClose();
    }, this.config.shutdownGraceMs);
    grace.unref();
    try {
      await Promise.all([this.#http?.close(), this.#grpc?.close(), this.#frontends?.close()]);
      await this.#repository?.stop();
      await this.#registry.stop();
    } finally {
      this.#core.sharedMemory.close();
      clearTimeout(grace);
      // Metrics stay up through the drain, so a scrape can watch it; they go last.
      this.#telemetry?.stop();
      await this.#metrics?.close();
      if (this.config.readyFile) rmSync(this.config.readyFile, { force: true });
      if (this.#ownsRuntimeDir) rmSync(this.runtimeDir, { recursive: true, force: true });
    }
    this.log.info("server stopped");
  }
}

/**
 * Loads every bound model and starts the endpoints.
 *
 * @example
 * const server = await serve({ http: 0 });
 * console.log(server.urls.http);
 * await server.close();
 */
export async function serve(options: ServeOptions = {}): Promise<Server> {
  const config = resolveConfig(options);
  // Built first: a mistake in the access settings is reported before any model loads.
  const httpAccessOptions = accessOptions(config, [...config.restrictedApi, ...config.httpRestrictedApi]);
  const grpcAccessOptions = accessOptions(config, [...config.restrictedApi, ...config.grpcRestrictedApi]);
  const httpAccess = new AccessControl(httpAccessOptions);
  const grpcAccess = new AccessControl(grpcAccessOptions);
  const log = options.logger ?? createLogger(config.logLevel);
  const registry = options.registry ?? defaultRegistry();
  if (registry.started)
    throw new Error("this registry is already being served; close the other server first");

  const ownsRuntimeDir = config.runtimeDir === undefined;
  // What killed servers left (runtime dirs, shared memory) goes before this one makes its own.
  const staleDirs = ownsRuntimeDir ? removeStaleRuntimeDirs(tmpdir()) : 0;
  if (staleDirs > 0) log.info(`removed ${staleDirs} runtime dir(s) left by killed servers`);
  const runtimeDir = makeRuntimeDir(config.runtimeDir);
  if (ownsRuntimeDir) claimRuntimeDir(runtimeDir);
  prepareSharedMemory({
    limitBytes: config.shmLimit,
    pythonModels: registry.list().filter((m) => m.backend.kind === "python").length,
    maxBodyBytes: config.maxBodyBytes,
    log,
  });

  const shmMode = config.shmExtension ?? (allLoopback(config) ? "all" : "off");
  const sharedMemory =
    shmMode === "off"
      ? undefined
      : new SharedMemoryRegistry({ showKeys: config.shmStatusKeys, cuda: shmMode === "all" });
  const core = new InferenceEngine(registry, {
    id: config.id,
    onRequest: config.logRequests ? requestLogger(log) : undefined,
    sharedMemory,
  });
  let http: HttpFrontend | undefined;
  let grpc: GrpcFrontend | undefined;
  let metrics: MetricsServer | undefined;
  let frontends: FrontendPool | undefined;
  // Telemetry exists when something reads it: the metrics port or the dashboard.
  const telemetry =
    config.metrics !== false || (config.dashboard && config.http !== false)
      ? new Telemetry(registry, {
          id: config.id,
          intervalMs: config.metricsIntervalMs,
          gpu: config.gpuMetrics,
          cpu: config.cpuMetrics,
          nvidiaSmi: config.nvidiaSmi,
          log,
        })
      : undefined;
  const urls: { http?: string; grpc?: string; metrics?: string } = {};
  let repository: ModelRepository | undefined;
  const httpOptions = config.http === false ? undefined : httpOptionsOf(config);
  const grpcOptions = config.grpc === false ? undefined : grpcOptionsOf(config);
  const workers = frontendThreads(config.workers, log);
  const pooled = workers > 1 && (httpOptions !== undefined || grpcOptions !== undefined);
  // grpc-js and the service definitions load while Python workers start their interpreters (this
  // thread is idle then), not after the models are ready; never before the workers are spawned,
  // which the synchronous part of the loading would delay.
  let grpcModule: ReturnType<typeof loadGrpcFrontend> | undefined;
  const preloadGrpc =
    grpcOptions !== undefined && !pooled
      ? () => {
          grpcModule ??= loadGrpcFrontend();
        }
      : undefined;
  try {
    // Models reach each other (pipelines, BLS) through the engine, as a client would.
    await registry.start({
      log,
      runtimeDir,
      infer: (request) => core.infer(request),
      inferStream: (request, onResponse) => core.inferStream(request, onResponse),
      ...(preloadGrpc !== undefined && { waiting: preloadGrpc }),
    });
    repository = await startRepository(options, { registry, core, log, runtimeDir });
    telemetry?.start();
    const pages =
      telemetry && config.dashboard && config.http !== false
        ? dashboardHandler({
            telemetry,
            serverId: config.id,
            isReady: () => core.isReady(),
            urls: () => urls,
          })
        : undefined;
    if (grpcOptions !== undefined) warnIgnoredPingSettings(config, log);
    if (pooled) {
      // Every core takes requests in: frontend threads share the ports and feed this engine.
      const { FrontendPool } = await import("./cluster/frontend-pool.js");
      frontends = new FrontendPool(
        core,
        {
          workers,
          logLevel: config.logLevel,
          http: httpOptions,
          grpc: grpcOptions,
          httpAccess: httpAccessOptions,
          grpcAccess: grpcAccessOptions,
          pages,
        },
        log,
      );
      const ports = await frontends.start();
      if (telemetry) telemetry.frontends = () => frontends?.load() ?? [];
      if (ports.http !== undefined)
        urls.http = `${httpScheme(config)}://${hostForUrl(config.host)}:${ports.http}`;
      if (ports.grpc !== undefined) urls.grpc = `${hostForUrl(config.grpcHost)}:${ports.grpc}`;
    } else {
      if (httpOptions !== undefined) {
        http = new HttpFrontend(core, { ...httpOptions, pages, access: httpAccess }, log);
        const port = await http.listen();
        urls.http = `${httpScheme(config)}://${hostForUrl(config.host)}:${port}`;
      }
      if (grpcOptions !== undefined) {
        const { GrpcFrontend } = await (grpcModule ?? loadGrpcFrontend());
        grpc = new GrpcFrontend(core, { ...grpcOptions, access: grpcAccess }, log);
        const port = await grpc.listen();
        urls.grpc = `${hostForUrl(config.grpcHost)}:${port}`;
      }
    }
    if (config.metrics !== false && telemetry) {
      metrics = new MetricsServer(telemetry, { port: config.metrics, host: config.host }, log);
      const port = await metrics.listen();
      urls.metrics = `http://${hostForUrl(config.host)}:${port}/metrics`;
    }
    const server = new Server({
      urls,
      config,
      log,
      runtimeDir,
      ownsRuntimeDir,
      core,
      registry,
      http,
      grpc,
      telemetry,
      metrics,
      repository,
      frontends,
    });
    core.setReady(true);
    frontends?.readyChanged(true);
    const exposed = [config.host, ...(grpc ? [config.grpcHost] : [])].filter(
      (h) => h !== "127.0.0.1" && h !== "localhost" && h !== "::1",
    );
    if (exposed.length > 0) {
      log.warn(
        { host: exposed.join(", ") },
        "listening on a non-loopback interface: the server is reachable from the network",
      );
    }
    logBanner(log, urls, registry, config.dashboard);
    if (config.readyFile) writeReadyFile(config.readyFile, { ...urls, pid: process.pid });
    return server;
  } catch (err) {
    telemetry?.stop();
    await metrics?.close().catch(() => {});
    await http?.close().catch(() => {});
    grpc?.forceShutdown();
    await frontends?.close().catch(() => {});
    await repository?.stop().catch(() => {});
    await registry.stop().catch(() => {});
    sharedMemory?.close();
    if (ownsRuntimeDir) rmSync(runtimeDir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * The gRPC frontend's module with its service definitions parsed. It loads only when gRPC is on,
 * so HTTP-only start-up stays fast; a failure surfaces where the frontend is built.
 */
function loadGrpcFrontend(): Promise<typeof import("./frontends/grpc/server.js")> {
  grpcLoading ??= import("./frontends/grpc/server.js").then((m) => {
    m.prepareGrpcServices();
    return m;
  });
  grpcLoading.catch(() => undefined); // awaited later, or never when a model fails to load first
  return grpcLoading;
}

let grpcLoading: ReturnType<typeof loadGrpcFrontend> | undefined;

/**
 * Starts loading what `serve(options)` will need of its own modules (the gRPC frontend) before it
 * is called: `tensorbind serve` does it while esbuild bundles the model modules and this thread
 * would wait. A mistake in the options is left to serve() to report.
 */
export function preloadForServe(options: ServeOptions): void {
  try {
    const config = resolveConfig(options);
    if (config.grpc !== false && config.workers <= 1) void loadGrpcFrontend();
  } catch {}
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1"]);

/** Whether no port is reachable from the network (the shared-memory extensions are on by default then). */
/** The server's private folder (sockets, files); a read-only /tmp says how to put it elsewhere. */
function makeRuntimeDir(given: string | undefined): string {
  try {
    if (given === undefined) return mkdtempSync(join(tmpdir(), "tensorbind-"));
    mkdirSync(given, { recursive: true, mode: 0o700 });
    return given;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new ConfigError(
      `cannot create the runtime directory in ${given ?? tmpdir()} (${code}): pass --runtime-dir <a writable folder> (or set TMPDIR)`,
      { cause: err },
    );
  }
}

function allLoopback(config: ResolvedConfig): boolean {
  return LOOPBACK.has(config.host) && (config.grpc === false || LOOPBACK.has(config.grpcHost));
}

/** Loads the Triton model repositories of `options.modelRepository`, when there are any. */
async function startRepository(
  options: ServeOptions,
  parts: { registry: Registry; core: InferenceEngine; log: Logger; runtimeDir: string },
): Promise<ModelRepository | undefined> {
  const given = options.modelRepository ?? process.env.TENSORBIND_MODEL_REPOSITORY;
  const paths = given === undefined ? [] : typeof given === "string" ? [given] : [...given];
  if (paths.length === 0) return undefined;
  // Loaded only for a repository: its config parser (protobufjs) and Python listing (execa) are
  // ~200 modules that a server of bound functions would load for nothing.
  const { ModelRepository } = await import("./repository/repository.js");
  const repository = new ModelRepository({
    registry: parts.registry,
    log: parts.log,
    runtimeDir: parts.runtimeDir,
    options: {
      paths,
      controlMode: options.modelControlMode ?? "none",
      startupModels: options.loadModels ?? [],
      pollSecs: options.repositoryPollSecs ?? 15,
      watch: options.watch ?? false,
    },
  });
  parts.core.setRepository(repository);
  await repository.start();
  return repository;
}

function accessOptions(config: ResolvedConfig, restricted: readonly ApiRestriction[]): AccessOptions {
  return { token: config.authToken, openHealth: config.authOpenHealth, restricted };
}

function httpOptionsOf(config: ResolvedConfig): Omit<HttpOptions, "pages" | "access"> {
  return {
    port: config.http === false ? 0 : config.http,
    host: config.host,
    maxBodyBytes: config.maxBodyBytes,
    maxHeaderBytes: config.maxHeaderBytes,
    maxJsonBytes: config.maxJsonBytes,
    tls: config.tls,
    browser: {
      checkHost: LOOPBACK.has(config.host),
      allowedHosts: config.allowedHosts,
      allowBrowserForms: config.allowBrowserForms,
    },
    limits: requestLimits(config),
    requestTimeoutMs: config.requestTimeoutMs,
    keepAliveTimeoutMs: config.keepAliveTimeoutMs,
    headerForwardPattern: config.headerForwardPattern,
  };
}

function grpcOptionsOf(config: ResolvedConfig): Omit<GrpcOptions, "access"> {
  return {
    port: config.grpc === false ? 0 : config.grpc,
    host: config.grpcHost,
    maxReceiveBytes: config.grpcMaxReceiveBytes,
    maxSendBytes: config.grpcMaxSendBytes,
    keepaliveTimeMs: config.grpcKeepaliveTimeMs,
    keepaliveTimeoutMs: config.grpcKeepaliveTimeoutMs,
    flowControlWindowBytes: config.grpcFlowControlWindowBytes,
    limits: requestLimits(config),
    ...(config.tls !== undefined && { tls: config.tls }),
  };
}

function frontendThreads(workers: number, log: Logger): number {
  if (workers <= 1 || supportsReusePort()) return workers;
  log.warn(
    { workers, node: process.versions.node },
    "workers > 1 needs Node.js 22.12 or newer (SO_REUSEPORT); serving with one event loop",
  );
  return 1;
}

function requestLimits(config: ResolvedConfig): RequestLimits {
  return { maxInputs: config.maxInputs, maxOutputs: config.maxOutputs, maxParameters: config.maxParameters };
}

function httpScheme(config: ResolvedConfig): "http" | "https" {
  return config.tls === undefined ? "http" : "https";
}

function hostForUrl(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

function logBanner(log: Logger, urls: ServerUrls, registry: Registry, dashboard: boolean): void {
  const models = registry
    .list()
    .map((m) => `${m.name}@${m.version} (${m.backend.kind}, ${m.state.toLowerCase()})`);
  const lines = [
    "tensorbind is ready",
    ...(urls.http ? [`  HTTP  ${urls.http}/v2`] : []),
    ...(urls.grpc ? [`  gRPC  ${urls.grpc}`] : []),
    ...(urls.metrics ? [`  metrics  ${urls.metrics}`] : []),
    ...(urls.http && dashboard ? [`  dashboard  ${urls.http}/`] : []),
    `  models: ${models.length ? models.join(", ") : "none"}`,
  ];
  // One record: readable logs print it as the banner, JSON logs as one line (never both).
  log.info(
    { urls, models: registry.list().map((m) => `${m.name}@${m.version}`), banner: lines },
    "tensorbind is ready",
  );
}

/**
 * Written whole, then renamed into place: whoever polls for the file (scripts, Slurm steps,
 * tests) never reads it empty or half-written.
 */
function writeReadyFile(path: string, info: object): void {
  const partial = `${path}.${process.pid}.partial`;
  writeFileSync(partial, JSON.stringify(info));
  renameSync(partial, path);
}
