import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { HELP, serveOptionsFromFlags } from "../../src/cli/main.js";
import { DEFAULTS, resolveConfig } from "../../src/config.js";
import { Registry } from "../../src/model/registry.js";
import { serve } from "../../src/server.js";

describe("gRPC settings", () => {
  it("default to the HTTP body limit for received messages, Triton's for the rest", () => {
    const c = resolveConfig({}, {});
    expect(c.grpc).toBe(8001);
    expect(c.grpcHost).toBe("127.0.0.1");
    expect(c.grpcMaxReceiveBytes).toBe(64 * 1024 * 1024);
    expect(c.grpcMaxSendBytes).toBe(2 ** 31 - 1);
    expect(c.grpcKeepaliveTimeMs).toBe(DEFAULTS.grpcKeepaliveTimeMs);
    expect(c.grpcKeepalivePermitWithoutCalls).toBe(false);
  });

  it("come from TENSORBIND_* variables, and an explicit option wins", () => {
    const env = {
      TENSORBIND_HOST: "0.0.0.0",
      TENSORBIND_GRPC_MAX_RECEIVE_BYTES: "1048576",
      TENSORBIND_GRPC_KEEPALIVE_TIME_MS: "10000",
      TENSORBIND_GRPC_KEEPALIVE_PERMIT_WITHOUT_CALLS: "true",
      TENSORBIND_GRPC_MIN_PING_INTERVAL_MS: "5000",
    };
    const c = resolveConfig({ grpcKeepaliveTimeMs: 20_000 }, env);
    expect(c.grpcHost).toBe("0.0.0.0"); // follows --host unless set on its own
    expect(c.grpcMaxReceiveBytes).toBe(1048576);
    expect(c.grpcKeepaliveTimeMs).toBe(20_000);
    expect(c.grpcKeepalivePermitWithoutCalls).toBe(true);
    expect(c.grpcMinPingIntervalMs).toBe(5000);
    expect(resolveConfig({ grpcHost: "::1" }, env).grpcHost).toBe("::1");
  });

  it("reject nonsense", () => {
    expect(() => resolveConfig({}, { TENSORBIND_GRPC_MAX_SEND_BYTES: "-1" })).toThrow(/grpcMaxSendBytes/);
    expect(() => resolveConfig({}, { TENSORBIND_GRPC_KEEPALIVE_PERMIT_WITHOUT_CALLS: "maybe" })).toThrow(
      /true or false/,
    );
  });

  it("map from Triton-style CLI flags", () => {
    const o = serveOptionsFromFlags({
      "grpc-port": "0",
      "grpc-address": "0.0.0.0",
      "grpc-max-receive-bytes": "4096",
      "grpc-max-send-bytes": "8192",
      "grpc-keepalive-time": "1000",
      "grpc-keepalive-timeout": "2000",
      "grpc-keepalive-permit-without-calls": "true",
      "grpc-http2-min-recv-ping-interval-without-data": "3000",
    });
    expect(o).toMatchObject({
      grpc: 0,
      grpcHost: "0.0.0.0",
      grpcMaxReceiveBytes: 4096,
      grpcMaxSendBytes: 8192,
      grpcKeepaliveTimeMs: 1000,
      grpcKeepaliveTimeoutMs: 2000,
      grpcKeepalivePermitWithoutCalls: true,
      grpcMinPingIntervalMs: 3000,
    });
  });
});

describe("gRPC ping settings grpc-js does not enforce", () => {
  it("are not offered in --help", () => {
    expect(HELP).toContain("--grpc-keepalive-time");
    expect(HELP).not.toContain("permit-without-calls");
    expect(HELP).not.toContain("min-recv-ping-interval");
  });

  it("are accepted from a Triton command line with a warning that they do nothing", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    const server = await serve({
      http: false,
      grpc: 0,
      metrics: false,
      registry: new Registry(),
      logger: pino({ level: "warn" }, sink),
      ...serveOptionsFromFlags({ "grpc-keepalive-permit-without-calls": "true" }),
    });
    await server.close();
    const warning = lines.map((l) => JSON.parse(l)).find((l) => /no effect/.test(l.msg));
    expect(warning?.settings).toEqual(["grpc-keepalive-permit-without-calls"]);
  });
});
