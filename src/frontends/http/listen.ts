import type { Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * Starts a node:http server on host:port and resolves with the bound port (useful with port 0).
 * With `reusePort`, other listeners that set it too share the port and the kernel spreads
 * connections over them. A port in use is an error that names it and says how to choose another (`flag`, e.g. "--http-port").
 */
export function listenOn(
  server: Server,
  port: number,
  host: string,
  what: string,
  hint: string,
  reusePort = false,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(
        err.code === "EADDRINUSE"
          ? new Error(`${what} port ${port} on ${host} is already in use; choose another with ${hint}`)
          : err,
      );
    };
    server.once("error", onError);
    // reusePort (SO_REUSEPORT, Node >= 22.12): several event loops take connections on one port.
    server.listen({ port, host, ...(reusePort && { reusePort }) }, () => {
      server.off("error", onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
