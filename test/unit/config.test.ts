import { describe, expect, it } from "vitest";
import { serveOptionsFromFlags } from "../../src/cli/main.js";
import { DEFAULTS, resolveConfig } from "../../src/config.js";
import { parseJson } from "../../src/frontends/http/json-parse.js";

describe("configuration", () => {
  it("uses Triton's default ports and loopback by default", () => {
    const c = resolveConfig({}, {});
    expect([c.http, c.grpc, c.metrics, c.host]).toEqual([8000, 8001, 8002, "127.0.0.1"]);
    expect(c.maxBodyBytes).toBe(DEFAULTS.maxBodyBytes);
  });
  it("takes an explicit option over the environment over the default", () => {
    const env = { TENSORBIND_HTTP_PORT: "9000", TENSORBIND_HOST: "0.0.0.0", TENSORBIND_ID: "triton" };
    const c = resolveConfig({ http: 0 }, env);
    expect(c.http).toBe(0);
    expect(c.host).toBe("0.0.0.0");
    expect(c.id).toBe("triton");
  });
  it("rejects bad values with a clear message", () => {
    expect(() => resolveConfig({}, { TENSORBIND_HTTP_PORT: "http" })).toThrow(/invalid http port/);
    expect(() => resolveConfig({ maxBodyBytes: -1 }, {})).toThrow(/positive integer/);
    expect(() => resolveConfig({ headerForwardPattern: "(" }, {})).toThrow(/header forward pattern/);
  });
  it("maps Triton-named CLI flags to options, leaving unset ones to the environment", () => {
    const o = serveOptionsFromFlags({
      "http-port": "0",
      "allow-grpc": "false",
      "log-verbose": "1",
      id: "triton",
    });
    expect(o).toEqual({ http: 0, grpc: false, logLevel: "debug", id: "triton" });
    expect(serveOptionsFromFlags({})).toEqual({});
    expect(() => serveOptionsFromFlags({ "http-port": "x" })).toThrow(/needs an integer/);
  });
});

describe("JSON parsing", () => {
  it("keeps integers beyond 2^53 exact as BigInt", () => {
    expect(parseJson('{"a":[9223372036854775807,-1,1.5,"x\\"y"]}')).toEqual({
      a: [9223372036854775807n, -1, 1.5, 'x"y'],
    });
  });
  it("rejects malformed JSON with a 400-class error", () => {
    expect(() => parseJson('{"a":12345678901234567 ')).toThrow(/malformed JSON/);
    expect(() => parseJson("{,}")).toThrow(/malformed JSON/);
  });
  it("does not let __proto__ keys pollute prototypes", () => {
    const v = parseJson('{"__proto__":{"polluted":1},"n":12345678901234567}') as Record<string, unknown>;
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(v)).toContain("__proto__");
  });
});

describe("shmLimit", () => {
  it("takes bytes or a unit, and is unlimited by default", () => {
    expect(resolveConfig({}).shmLimit).toBe(Number.POSITIVE_INFINITY);
    expect(resolveConfig({ shmLimit: 1 << 20 }).shmLimit).toBe(1 << 20);
    expect(resolveConfig({ shmLimit: "512MiB" }).shmLimit).toBe(512 << 20);
    expect(resolveConfig({ shmLimit: "2g" }).shmLimit).toBe(2 ** 31);
    expect(() => resolveConfig({ shmLimit: "lots" })).toThrow(/invalid shmLimit 'lots'/);
    expect(() => resolveConfig({ shmLimit: 0 })).toThrow(/invalid shmLimit/);
  });
});
