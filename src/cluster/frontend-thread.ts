import { type MessagePort, parentPort, workerData } from "node:worker_threads";
import { AccessControl, type AccessOptions } from "../core/access.js";
import { createLogger, type LogLevel } from "../core/logger.js";
import type { GrpcFrontend, GrpcOptions } from "../frontends/grpc/server.js";
import { HttpFrontend, type HttpOptions, type PageHandler } from "../frontends/http/server.js";
import type { ToEngine, ToFrontend } from "./messages.js";
import { RemoteCore } from "./remote-core.js";

/** What the engine's thread hands a frontend thread at start. */
export interface FrontendThreadData {
  readonly index: number;
  readonly logLevel: LogLevel;
  readonly http: Omit<HttpOptions, "pages" | "access"> | undefined;
  readonly grpc: Omit<GrpcOptions, "access"> | undefined;
  readonly httpAccess: AccessOptions;
  readonly grpcAccess: AccessOptions;
  /** Whether pages outside /v2 (the dashboard) are asked of the engine's thread. */
  readonly pages: boolean;
  readonly syncPort: MessagePort;
  readonly syncFlag: SharedArrayBuffer;
}

/**
 * A frontend thread: the HTTP and gRPC frontends on ports it shares with the other frontend
 * threads (SO_REUSEPORT), translating wire formats on its own event loop — socket reads, body
 * assembly, JSON parsing and formatting — and handing requests to the engine's thread.
 */
async function main(): Promise<void> {
  const port = parentPort!;
  const data = workerData as FrontendThreadData;
  const post = (msg: ToEngine, transfer?: ArrayBuffer[]) => port.postMessage(msg, transfer ?? []);
  const log = createLogger(data.logLevel).child({ frontend: data.index });
  const core = new RemoteCore(post, data.syncPort, new Int32Array(data.syncFlag));
  let http: HttpFrontend | undefined;
  let grpc: GrpcFrontend | undefined;

  port.on("message", (msg: ToFrontend) => {
    if (core.receive(msg)) return;
    if (msg.t === "close") {
      Promise.all([http?.close(), grpc?.close()]).then(() => {
        post({ t: "closed" });
        process.exit(0);
      });
    } else if (msg.t === "force") {
      http?.destroyConnections();
      grpc?.forceShutdown();
    }
  });

  const pages: PageHandler | undefined = data.pages
    ? (req, res, path) => {
        const page = core.page(req.method ?? "GET", path);
        if (page === undefined) return false;
        res.writeHead(page.status, page.headers);
        res.end(req.method === "HEAD" || page.body === undefined ? undefined : page.body);
        return true;
      }
    : undefined;

  try {
    let httpPort: number | undefined;
    let grpcPort: number | undefined;
    if (data.http !== undefined) {
      const access = new AccessControl(data.httpAccess);
      http = new HttpFrontend(core, { ...data.http, pages, access, reusePort: true }, log);
      httpPort = await http.listen();
    }
    if (data.grpc !== undefined) {
      const { GrpcFrontend } = await import("../frontends/grpc/server.js");
      const access = new AccessControl(data.grpcAccess);
      grpc = new GrpcFrontend(core, { ...data.grpc, access, reusePort: true }, log);
      grpcPort = await grpc.listen();
    }
    post({
      t: "listening",
      ...(httpPort !== undefined && { http: httpPort }),
      ...(grpcPort !== undefined && { grpc: grpcPort }),
    });
    log.debug({ http: httpPort, grpc: grpcPort }, "frontend thread listening");
  } catch (err) {
    post({ t: "start-failed", message: (err as Error).message });
    process.exit(1);
  }
}

void main();
