import type { Server } from "node:http";
import { InternalError, MethodNotAllowedError, NotFoundError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import { createServer } from "../core/node-http.js";
import { listenOn } from "../frontends/http/listen.js";
import { sendError } from "../frontends/http/respond.js";
import { pathOf } from "../frontends/http/routes.js";
import type { Telemetry } from "./telemetry.js";

export interface MetricsServerOptions {
  readonly port: number;
  readonly host: string;
}

/**
 * The Prometheus endpoint on its own port (Triton's 8002): `GET /metrics` and nothing else.
 * Kept apart from the inference port so that scrapes never queue behind inference traffic
 * and the port can be exposed to a monitoring network alone.
 */
export class MetricsServer {
  readonly #telemetry: Telemetry;
  readonly #options: MetricsServerOptions;
  readonly #log: Logger;
  readonly #server: Server;
  #closing: Promise<void> | undefined;

  constructor(telemetry: Telemetry, options: MetricsServerOptions, log: Logger) {
    this.#telemetry = telemetry;
    this.#options = options;
    this.#log = log;
    this.#server = createServer({ keepAliveTimeout: 30_000, requestTimeout: 10_000 }, (req, res) => {
      const path = pathOf(req.url);
      if (path !== "/metrics" && path !== "/metrics/") {
        sendError(res, new NotFoundError(`no route for ${req.method ?? "?"} ${path}; use GET /metrics`));
        return;
      }
      if (req.method !== "GET" && req.method !== "HEAD") {
        sendError(
          res,
          new MethodNotAllowedError(`${req.method ?? "?"} is not allowed on /metrics; use GET`),
          {
            Allow: "GET, HEAD",
          },
        );
        return;
      }
      const send = (text: string, contentType: string) => {
        res.writeHead(200, { "Content-Type": contentType, "Content-Length": Buffer.byteLength(text) });
        res.end(req.method === "HEAD" ? undefined : text);
      };
      this.#telemetry.metrics().then(
        ({ text, contentType }) => send(text, contentType),
        (err: unknown) => {
          this.#log.error({ err }, "metrics collection failed");
          sendError(res, new InternalError("metrics collection failed"));
        },
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
      "metrics",
      "--metrics-port (0 picks a free one, --allow-metrics false turns metrics off)",
    );
  }

  /** Stops listening and closes every connection (a scrape in progress is cut short). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      if (!this.#server.listening) return resolve();
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
    return this.#closing;
  }
}
