import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { AccessControl } from "../../core/access.js";
import { isServerFault, isTensorbindError, MethodNotAllowedError, NotFoundError } from "../../core/errors.js";
import type { InferenceCore } from "../../core/inference-core.js";
import type { Logger } from "../../core/logger.js";
import { createHttpsServer, createServer } from "../../core/node-http.js";
import type { RequestLimits } from "../../core/request-limits.js";
import { traceFields, traceOf } from "../../core/trace-context.js";
import { type BrowserGuardOptions, checkBrowserRequest } from "./browser-guard.js";
import { handleInfer, type InferHandlerOptions } from "./infer-handler.js";
import { closeAfterResponse } from "./linger.js";
import { listenOn } from "./listen.js";
import { repositoryIndex, repositoryLoad, repositoryUnload } from "./repository-handler.js";
import { sendError, sendJson } from "./respond.js";
import { matchRoute, pathOf, type RouteMatch } from "./routes.js";
import { handleShm, matchShmRoute } from "./shm-handler.js";
import { bodyReadPastParser } from "./socket-body.js";
import { type HttpTlsOptions, httpsOptions } from "./tls.js";

export interface HttpOptions {
  readonly port: number;
  readonly host: string;
  /** Largest request body accepted, after decompression. */
  readonly maxBodyBytes: number;
  /** Largest JSON part of an infer request (the whole body, or its Inference-Header-Content-Length). */
  readonly maxJsonBytes?: number | undefined;
  /** Caps on inputs, outputs and parameters of an infer request. */
  readonly limits?: RequestLimits | undefined;
  /** Largest request head (request line + headers). */
  readonly maxHeaderBytes: number;
  /** A request that has not fully arrived within this time is answered 408 and closed (slowloris). */
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  /** Request headers whose names match become request parameters (Triton's header-forward pattern). */
  readonly headerForwardPattern: RegExp | undefined;
  /** Pages outside /v2 (the dashboard); answers GETs it knows and returns false for the rest. */
  readonly pages?: PageHandler | undefined;
  /** Bearer token and restricted APIs; none when absent. */
  readonly access?: AccessControl | undefined;
  /** DNS-rebinding and cross-site form checks; none when absent. */
  readonly browser?: BrowserGuardOptions | undefined;
  /** Serve HTTPS from these certificate files; plain HTTP when absent. */
  readonly tls?: HttpTlsOptions | undefined;
  /** Share the port with other listeners that set it too (SO_REUSEPORT): one per frontend thread. */
  readonly reusePort?: boolean;
}

/** Serves a request for a path outside /v2 when it knows the path; returns false otherwise. */
export type PageHandler = (req: IncomingMessage, res: ServerResponse, path: string) => boolean;

/**
 * The KServe v2 HTTP/REST frontend on node:http. It only translates: routes and bodies in,
 * InferenceCore calls, JSON or binary bodies out. Errors come from the core's hierarchy.
 */
export class HttpFrontend {
  readonly #core: InferenceCore;
  readonly #options: HttpOptions;
  readonly #log: Logger;
  readonly #server: Server;
  #closing: Promise<void> | undefined;
  readonly #active = new Set<ServerResponse>();
  /** Connections that have not sent a request yet: closeIdleConnections() leaves them open. */
  readonly #fresh = new Set<Socket>();

  constructor(core: InferenceCore, options: HttpOptions, log: Logger) {
    this.#core = core;
    this.#options = options;
    this.#log = log;
    const settings = {
      maxHeaderSize: options.maxHeaderBytes,
      requestTimeout: options.requestTimeoutMs,
      headersTimeout: Math.min(options.requestTimeoutMs, 60_000),
      keepAliveTimeout: options.keepAliveTimeoutMs,
      // Node checks request timeouts on this interval (30 s by default): keep it a fraction of the timeout.
      connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.floor(options.requestTimeoutMs / 4))),
      noDelay: true,
    };
    const handler = (req: IncomingMessage, res: ServerResponse) => this.#handle(req, res);
    // https.Server has the same surface as http.Server (it is one, over TLS sockets).
    this.#server =
      options.tls === undefined
        ? createServer(settings, handler)
        : (createHttpsServer({ ...settings, ...httpsOptions(options.tls) }, handler) as unknown as Server);
    // Over TLS a request's socket is the TLS socket, which "secureConnection" hands out.
    this.#server.on(options.tls === undefined ? "connection" : "secureConnection", (socket: Socket) => {
      this.#fresh.add(socket);
      socket.once("close", () => this.#fresh.delete(socket));
    });
    this.#server.on("clientError", (err, socket) => {
      if (!socket.writable) return socket.destroy();
      const status =
        (err as NodeJS.ErrnoException).code === "HPE_HEADER_OVERFLOW"
          ? 431
          : err.message.includes("timeout")
            ? 408
            : 400;
      const body = JSON.stringify({ error: status === 431 ? "request headers too large" : "bad request" });
      socket.end(
        `HTTP/1.1 ${status} ${status === 431 ? "Request Header Fields Too Large" : status === 408 ? "Request Timeout" : "Bad Request"}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
      );
    });
  }

  /** Starts listening; resolves with the bound port (useful with port 0). */
  listen(): Promise<number> {
    const { port, host } = this.#options;
    return listenOn(
      this.#server,
      port,
      host,
      "HTTP",
      "--http-port (0 picks a free one)",
      this.#options.reusePort,
    );
  }

  get port(): number {
    return (this.#server.address() as AddressInfo | null)?.port ?? this.#options.port;
  }

  /** Stops accepting connections, lets in-flight requests finish, closes idle keep-alive sockets. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      // Responses still to be written end their connection; idle keep-alive sockets close now.
      for (const res of this.#active) if (!res.headersSent) res.setHeader("Connection", "close");
      this.#server.close(() => resolve());
      this.#server.closeIdleConnections();
      for (const socket of this.#fresh) socket.destroy();
    });
    return this.#closing;
  }

  /** Forcibly drops every connection (after a drain grace period has passed). */
  destroyConnections(): void {
    this.#server.closeAllConnections();
    // Those node:http no longer lists: a body read past its parser (socket-body.ts).
    for (const res of this.#active) res.socket?.destroy();
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    this.#fresh.delete(req.socket);
    if (this.#closing) res.setHeader("Connection", "close");
    this.#active.add(res);
    res.once("close", () => {
      this.#active.delete(res);
      if (this.#closing) this.#server.closeIdleConnections();
    });
    const path = pathOf(req.url);
    const { access, browser } = this.#options;
    if (browser !== undefined && this.#refused(req, res, () => checkBrowserRequest(req, browser))) return;
    if (this.#options.pages !== undefined && !path.startsWith("/v2")) {
      // The dashboard shows statistics: it is guarded like them.
      const headers = (name: string) => req.headers[name];
      if (access?.enabled && this.#refused(req, res, () => access.check("statistics", headers))) return;
      if (this.#page(req, res, path)) return;
    }
    const match = matchRoute(path);
    this.#route(req, res, match, path).catch((err: unknown) => {
      // A body we refused to read must not be parsed as the next request on this connection.
      if (!req.complete && !bodyReadPastParser(req))
        closeAfterResponse(req, res, lingerBytes(this.#options.maxBodyBytes));
      const e = sendError(
        res,
        err,
        isTensorbindError(err, "TB_ERR_METHOD_NOT_ALLOWED")
          ? { Allow: match?.method ?? "GET" }
          : authenticateHeader(err),
      );
      // The caller's ids, when it sent them, so that the line joins its trace.
      const ids = traceFields(traceOf((name) => req.headers[name]));
      if (isServerFault(e)) this.#log.error({ err: e, cause: e.cause, path, ...ids }, "request failed");
      else this.#log.debug({ code: e.code, error: e.message, path, ...ids }, "request rejected");
    });
  }

  /** Runs a check before any route; a refusal is answered here (true) and closes after a lingering read. */
  #refused(req: IncomingMessage, res: ServerResponse, check: () => void): boolean {
    try {
      check();
      return false;
    } catch (err) {
      if (!req.complete && !bodyReadPastParser(req))
        closeAfterResponse(req, res, lingerBytes(this.#options.maxBodyBytes));
      const e = sendError(res, err, authenticateHeader(err));
      this.#log.debug({ code: e.code, error: e.message }, "request refused");
      return true;
    }
  }

  #page(req: IncomingMessage, res: ServerResponse, path: string): boolean {
    try {
      return this.#options.pages!(req, res, path);
    } catch (err) {
      this.#log.error({ err, path }, "page failed");
      sendError(res, err);
      return true;
    }
  }

  async #route(
    req: IncomingMessage,
    res: ServerResponse,
    match: RouteMatch | undefined,
    path: string,
  ): Promise<void> {
    if (!match) {
      const shm = matchShmRoute(path);
      if (!shm) throw new NotFoundError(`no route for ${req.method ?? "?"} ${path}`);
      this.#options.access?.check("shared-memory", (name) => req.headers[name]);
      return handleShm(this.#core, req, res, shm);
    }
    this.#options.access?.check(match.group, (name) => req.headers[name]);
    const method = req.method === "HEAD" ? "GET" : req.method;
    if (method !== match.method)
      throw new MethodNotAllowedError(`${req.method ?? "?"} is not allowed on ${path}; use ${match.method}`);
    const core = this.#core;
    const { model, version } = match;
    switch (match.route) {
      case "health_live": {
        const live = core.isLive();
        return sendJson(res, live ? 200 : 400, { live });
      }
      case "health_ready": {
        const ready = core.isReady();
        return sendJson(res, ready ? 200 : 400, { ready });
      }
      case "server_metadata":
        return sendJson(res, 200, core.serverMetadata());
      case "model_metadata":
        return sendJson(res, 200, core.modelMetadata(model!, version));
      case "model_ready": {
        // Like Triton, an unknown model is simply not ready: 400, with the reason in the body.
        try {
          const ready = core.isModelReady(model!, version);
          return sendJson(res, ready ? 200 : 400, { name: model, ready });
        } catch (err) {
          if (!isTensorbindError(err, "TB_ERR_NOT_FOUND")) throw err;
          return sendJson(res, 400, { error: err.message });
        }
      }
      case "model_config":
        return sendJson(res, 200, core.modelConfig(model!, version));
      case "model_stats":
        return sendJson(res, 200, { model_stats: core.modelStatistics(model!, version) });
      case "all_stats":
        return sendJson(res, 200, { model_stats: core.modelStatistics() });
      case "repository_index":
        return sendJson(res, 200, await repositoryIndex(core, req));
      case "repository_load":
        await repositoryLoad(core, req, model!);
        return sendJson(res, 200, {});
      case "repository_unload":
        await repositoryUnload(core, req, model!);
        return sendJson(res, 200, {});
      case "model_infer":
        return handleInfer(core, req, res, model!, version, this.#inferOptions());
    }
  }

  #inferOptions(): InferHandlerOptions {
    return {
      maxBodyBytes: this.#options.maxBodyBytes,
      maxJsonBytes: this.#options.maxJsonBytes ?? this.#options.maxBodyBytes,
      limits: this.#options.limits,
      headerForwardPattern: this.#options.headerForwardPattern,
    };
  }
}

/** A 401 names the scheme it wants (RFC 6750). */
function authenticateHeader(err: unknown): Record<string, string> {
  return isTensorbindError(err, "TB_ERR_UNAUTHENTICATED") ? { "WWW-Authenticate": "Bearer" } : {};
}

/** How much of a refused body is read and discarded before closing (more resets a client still sending). */
function lingerBytes(maxBodyBytes: number): number {
  return Math.max(64 << 20, 4 * maxBodyBytes);
}
