import { describe, expect, it } from "vitest";
import { BACKEND_FACTORY, type Backend, type BackendFactory } from "../../src/core/backend.js";
import { ConfigError, isTensorbindError } from "../../src/core/errors.js";
import { parseJson } from "../../src/frontends/http/json-parse.js";
import { Model } from "../../src/model/model.js";

/** An error as a second copy of the package makes it: same brand and code, another class. */
function foreignError(code: string, message: string): Error {
  const err = new Error(message) as Error & { code: string };
  err.code = code;
  Object.defineProperty(err, Symbol.for("tensorbind.error"), { value: true });
  return err;
}

function failingFactory(err: unknown): BackendFactory {
  const backend: Backend = {
    kind: "native",
    instances: 1,
    start: () => Promise.reject(err),
    execute: () => Promise.resolve([]),
    stop: () => Promise.resolve(),
  };
  return { [BACKEND_FACTORY]: true, kind: "native", create: () => backend };
}

const log = { debug() {}, info() {}, warn() {}, error() {} } as never;

describe("error brands", () => {
  it("recognises an error from another copy of the package, and its code", () => {
    const err = foreignError("TB_ERR_CONFIG", "bad");
    expect(err).not.toBeInstanceOf(ConfigError);
    expect(isTensorbindError(err)).toBe(true);
    expect(isTensorbindError(err, "TB_ERR_CONFIG")).toBe(true);
    expect(isTensorbindError(err, "TB_ERR_INTERNAL")).toBe(false);
    expect(isTensorbindError(new Error("plain"))).toBe(false);
  });

  it("a model's load passes on another copy's ConfigError unwrapped", async () => {
    const err = foreignError("TB_ERR_CONFIG", "the addon says no");
    const model = new Model({ name: "m", fn: failingFactory(err) });
    await expect(model.load({ log, runtimeDir: "/tmp" })).rejects.toBe(err);
    expect(model.state).toBe("UNAVAILABLE");
  });

  it("a model's load wraps a plain error into a ConfigError with its cause", async () => {
    const err = new Error("boom");
    const model = new Model({ name: "m", fn: failingFactory(err) });
    await expect(model.load({ log, runtimeDir: "/tmp" })).rejects.toMatchObject({
      code: "TB_ERR_CONFIG",
      message: "model 'm' failed to load: boom",
      cause: err,
    });
  });

  it("malformed JSON is an invalid-argument error", () => {
    expect(() => parseJson("{")).toThrow(expect.objectContaining({ code: "TB_ERR_INVALID_ARG" }));
  });
});
