import type { Http2Server, ServerOptions as Http2ServerOptions, Http2Session } from "node:http2";
import type { Server } from "@grpc/grpc-js";

/**
 * Raises the HTTP/2 receive windows of a grpc-js server.
 *
 * grpc-js (1.14) leaves a server's windows at Node's 64 KiB: a client sending a 7 MB event must
 * then wait for a WINDOW_UPDATE round trip every 64 KiB, which on loopback costs more than the
 * transfer itself (grpc/grpc-node#3058 adds the option upstream). Until grpc-js honours
 * `grpc-node.flow_control_window` on servers, we set what that change sets: the stream window
 * advertised in the server's SETTINGS and each session's connection window. Both go through
 * grpc-js internals, so each step checks that they are there and reports false when not.
 *
 * The server also allows frames up to 4 MiB (HTTP/2's default is 16 KiB): a client then sends a
 * 7 MB request in about 110 socket-sized chunks instead of about 560 frames, each of which costs
 * a trip through Node's HTTP/2 and grpc-js's message decoder.
 *
 * Call raiseStreamWindow before bindAsync (settings) and raiseConnectionWindow after it (sessions).
 */
export function raiseStreamWindow(server: Server, streamWindow: number): boolean {
  const internals = server as unknown as { commonServerOptions?: Http2ServerOptions };
  const common = internals.commonServerOptions;
  if (common === undefined || typeof common !== "object") return false;
  common.settings = {
    ...common.settings,
    initialWindowSize: streamWindow,
    ...(streamWindow > 65_535 && { maxFrameSize: MAX_FRAME_BYTES }),
  };
  return true;
}

const MAX_FRAME_BYTES = 4 << 20;

/** Gives every new session of the bound server a connection window of `connectionWindow` bytes. */
export function raiseConnectionWindow(server: Server, connectionWindow: number): boolean {
  const internals = server as unknown as { http2Servers?: Map<Http2Server, unknown> };
  if (!(internals.http2Servers instanceof Map)) return false;
  for (const h2 of internals.http2Servers.keys()) {
    h2.on("session", (session: Http2Session) => {
      // A session that fails here keeps Node's window: slower, never wrong.
      try {
        session.setLocalWindowSize(connectionWindow);
      } catch {}
    });
  }
  return true;
}
