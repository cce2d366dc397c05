import { createServer, type Server as NetServer } from "node:net";
import { Server, setLogger } from "@grpc/grpc-js";
import type { AccessControl } from "../../core/access.js";
import type { InferenceCore } from "../../core/inference-core.js";
import type { Logger } from "../../core/logger.js";
import { DEFAULT_REQUEST_LIMITS, type RequestLimits } from "../../core/request-limits.js";
import { accessInterceptor } from "./access.js";
import { type GrpcTlsOptions, serverCredentials } from "./credentials.js";
import { raiseConnectionWindow, raiseStreamWindow } from "./flow-control.js";
import { healthService } from "./health.js";
import { requestLimitsInterceptor } from "./limits.js";
import { loadProtos } from "./load.js";
import { inPlaceReplies } from "./reply.js";
import { inferenceService } from "./service.js";
import { StreamRegistry } from "./stream.js";
import { rejectUndecodable, tolerantDeserializers } from "./undecodable.js";

export interface GrpcOptions {
  readonly port: number;
  readonly host: string;
  /** Largest message accepted, after decompression (grpc.max_receive_message_length). */
  readonly maxReceiveBytes: number;
  /** Largest message sent (grpc.max_send_message_length). */
  readonly maxSendBytes: number;
  /** Interval of the server's own keepalive pings (grpc.keepalive_time_ms). */
  readonly keepaliveTimeMs: number;
  /** A ping unanswered this long drops the connection (grpc.keepalive_timeout_ms). */
  readonly keepaliveTimeoutMs: number;
  /** HTTP/2 receive window per stream (bytes); the connection window is four times it. */
  readonly flowControlWindowBytes?: number;
  readonly tls?: GrpcTlsOptions;
  /** Bearer token and restricted APIs; none when absent. */
  readonly access?: AccessControl | undefined;
  /** Share the port with other listeners that set it too (SO_REUSEPORT): one per frontend thread. */
  readonly reusePort?: boolean;
  /** Caps on inputs, outputs and parameters of an infer request (default DEFAULT_REQUEST_LIMITS). */
  readonly limits?: RequestLimits | undefined;
}

/** Parses the service definitions ahead of the frontend, e.g. while models load (they are cached). */
export function prepareGrpcServices(): void {
  loadProtos();
}

/**
 * The KServe v2 / Triton gRPC frontend on @grpc/grpc-js: inference.GRPCInferenceService plus
 * grpc.health.v1.Health on one port. It only translates messages to InferenceCore calls.
 */
export class GrpcFrontend {
  readonly #options: GrpcOptions;
  readonly #log: Logger;
  readonly #server: Server;
  readonly #streams = new StreamRegistry();
  #port: number | undefined;
  /** With reusePort: our own listener, whose connections are handed to grpc-js. */
  #shared: NetServer | undefined;
  #closing: Promise<void> | undefined;

  constructor(core: InferenceCore, options: GrpcOptions, log: Logger) {
    this.#options = options;
    this.#log = log;
    // grpc-js writes its own lines (`E No address added…`) to the console; the errors that
    // matter reach us as rejections with a clear message, so its lines go to our log at debug.
    const grpcLine = (...args: unknown[]) => log.debug({ component: "grpc-js" }, args.map(String).join(" "));
    setLogger({ error: grpcLine, info: grpcLine, debug: grpcLine });
    this.#server = new Server({
      interceptors: [
        ...(options.access?.enabled ? [accessInterceptor(options.access)] : []),
        rejectUndecodable,
        requestLimitsInterceptor(options.limits ?? DEFAULT_REQUEST_LIMITS),
      ],
      "grpc.max_receive_message_length": options.maxReceiveBytes,
      "grpc.max_send_message_length": options.maxSendBytes,
      "grpc.keepalive_time_ms": options.keepaliveTimeMs,
      "grpc.keepalive_timeout_ms": options.keepaliveTimeoutMs,
      // Read by grpc-js versions that support it on servers; raiseStreamWindow covers the others.
      ...(options.flowControlWindowBytes !== undefined && {
        "grpc-node.flow_control_window": options.flowControlWindowBytes,
      }),
    });
    if (
      options.flowControlWindowBytes !== undefined &&
      !raiseStreamWindow(this.#server, options.flowControlWindowBytes)
    )
      log.debug("this grpc-js version keeps its own HTTP/2 stream window");
    const protos = loadProtos();
    this.#server.addService(
      inPlaceReplies(tolerantDeserializers(protos.inference)),
      inferenceService(core, protos.inference, log, this.#streams),
    );
    this.#server.addService(tolerantDeserializers(protos.health), healthService(core));
  }

  /** Starts listening; resolves with the bound port (useful with port 0). */
  listen(): Promise<number> {
    if (this.#options.reusePort) return this.#listenShared();
    const { host, port } = this.#options;
    const address = `${host.includes(":") ? `[${host}]` : host}:${port}`;
    return new Promise((resolve, reject) => {
      this.#server.bindAsync(address, serverCredentials(this.#options.tls), (err, bound) => {
        if (err) {
          reject(
            /EADDRINUSE|address already in use/i.test(err.message)
              ? new Error(
                  `gRPC port ${port} on ${host} is already in use; choose another with --grpc-port (0 picks a free one)`,
                )
              : new Error(`cannot listen for gRPC on ${address}: ${err.message}`, { cause: err }),
          );
          return;
        }
        const window = this.#options.flowControlWindowBytes;
        if (window !== undefined && !raiseConnectionWindow(this.#server, Math.min(4 * window, 2 ** 31 - 1)))
          this.#log.debug("this grpc-js version keeps its own HTTP/2 connection window");
        this.#port = bound;
        resolve(bound);
      });
    });
  }

  /**
   * grpc-js cannot set SO_REUSEPORT, so a listener of ours takes the connections and injects
   * them into the grpc-js server (its public connection-injector API).
   */
  #listenShared(): Promise<number> {
    const { host, port } = this.#options;
    const injector = this.#server.createConnectionInjector(serverCredentials(this.#options.tls));
    const window = this.#options.flowControlWindowBytes;
    if (window !== undefined) raiseConnectionWindow(this.#server, Math.min(4 * window, 2 ** 31 - 1));
    const net = createServer({ noDelay: true }, (socket) => injector.injectConnection(socket));
    this.#shared = net;
    return new Promise((resolve, reject) => {
      net.once("error", (err: NodeJS.ErrnoException) =>
        reject(
          err.code === "EADDRINUSE"
            ? new Error(
                `gRPC port ${port} on ${host} is already in use; choose another with --grpc-port (0 picks a free one)`,
              )
            : new Error(`cannot listen for gRPC on ${host}:${port}: ${err.message}`, { cause: err }),
        ),
      );
      net.listen({ port, host, reusePort: true }, () => {
        this.#port = (net.address() as { port: number }).port;
        resolve(this.#port);
      });
    });
  }

  get port(): number {
    return this.#port ?? this.#options.port;
  }

  /**
   * Stops accepting calls and lets in-flight ones finish; open streams are ended once their
   * pending requests are answered. Idempotent; see forceShutdown for the grace deadline.
   */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.#shared?.close();
      this.#streams.drain();
      this.#server.tryShutdown((err) => {
        if (err) this.#log.warn({ err: err.message }, "gRPC shutdown error");
        resolve();
      });
    });
    return this.#closing;
  }

  /** Cancels every call and drops every connection (after the drain grace period). */
  forceShutdown(): void {
    this.#shared?.close();
    this.#server.forceShutdown();
  }
}
