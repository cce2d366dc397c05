import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "../logger.js";
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
      const path = (req.url ?? "/").split("?", 1)[0];
      const send = (
        status: number,
        body: string,
        type = "application/json",
        extra: Record<string, string> = {},
      ) => {
        res.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(body), ...extra });
        res.end(req.method === "HEAD" ? undefined : body);
      };
      if (path !== "/metrics" && path !== "/metrics/") {
        return send(
          404,
          JSON.stringify({ error: `no route for ${req.method ?? "?"} ${path}; use GET /metrics` }),
        );
      }
      if (req.method !== "GET" && req.method !== "HEAD") {
        return send(
          405,
          JSON.stringify({ error: `${req.method ?? "?"} is not allowed on /metrics; use GET` }),
          undefined,
          {
            Allow: "GET, HEAD",
          },
        );
      }
      this.#telemetry.metrics().then(
        ({ text, contentType }) => send(200, text, contentType),
        (err: unknown) => {
          this.#log.error({ err }, "metrics collection failed");
          send(500, JSON.stringify({ error: "metrics collection failed" }));
        },
      );
    });
  }

  /** Starts listening; resolves with the bound port (useful with port 0). */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        reject(
          err.code === "EADDRINUSE"
            ? new Error(
                `metrics port ${this.#options.port} on ${this.#options.host} is already in use; choose another with --metrics-port (0 picks a free one, --allow-metrics false turns metrics off)`,
              )
            : err,
        );
      };
      this.#server.once("error", onError);
      this.#server.listen(this.#options.port, this.#options.host, () => {
        this.#server.off("error", onError);
        resolve((this.#server.address() as AddressInfo).port);
      });
    });
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
