// The gRPC frontend raises its HTTP/2 receive windows (grpc-js leaves them at Node's 64 KiB,
// which makes a client stall every 64 KiB of a large request). Checked with a raw HTTP/2
// session: the SETTINGS the server sends, and the connection window it opens.
import { type ClientHttp2Session, connect } from "node:http2";
import { afterEach, describe, expect, it } from "vitest";
import { identityModels } from "../helpers/models.js";
import { startServer } from "../helpers/server.js";

type Started = Awaited<ReturnType<typeof startServer>>;
let server: Started | undefined;
let session: ClientHttp2Session | undefined;

afterEach(async () => {
  session?.destroy();
  await server?.close();
  server = undefined;
  session = undefined;
});

/** Connects to the gRPC port and resolves once the server's SETTINGS and first window update arrived. */
async function serverWindows(
  address: string,
): Promise<{ stream: number; connection: number; frame: number }> {
  session = connect(`http://${address}`);
  const s = session;
  await new Promise<void>((resolve, reject) => {
    s.once("remoteSettings", () => resolve());
    s.once("error", reject);
  });
  // The connection window arrives as a WINDOW_UPDATE just after the SETTINGS.
  for (let i = 0; i < 50 && (s.state.remoteWindowSize ?? 0) <= 65_535; i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    stream: s.remoteSettings.initialWindowSize ?? 0,
    connection: s.state.remoteWindowSize ?? 0,
    frame: s.remoteSettings.maxFrameSize ?? 0,
  };
}

describe("gRPC HTTP/2 flow control", () => {
  it("advertises a 16 MiB stream window, a 64 MiB connection window and 4 MiB frames by default", async () => {
    server = await startServer(identityModels().slice(0, 1), { http: false, grpc: 0 });
    const w = await serverWindows(server.urls.grpc!);
    expect(w.stream).toBe(16 << 20);
    expect(w.connection).toBe(64 << 20);
    expect(w.frame).toBe(4 << 20);
  });

  it("keeps Node's 64 KiB stream window and 16 KiB frames when configured to 65535", async () => {
    server = await startServer(identityModels().slice(0, 1), {
      http: false,
      grpc: 0,
      grpcFlowControlWindowBytes: 65_535,
    });
    const w = await serverWindows(server.urls.grpc!);
    expect(w.stream).toBe(65_535);
    // The connection window is four stream windows, as by default (64 MiB = 4 × 16 MiB): the
    // session's WINDOW_UPDATE still came, sized from the configured window.
    expect(w.connection).toBe(4 * 65_535);
    expect(w.frame).toBe(16_384);
  });

  it("refuses a window outside HTTP/2's range", async () => {
    await expect(startServer([], { http: false, grpc: 0, grpcFlowControlWindowBytes: 1000 })).rejects.toThrow(
      /grpcFlowControlWindowBytes/,
    );
  });
});
