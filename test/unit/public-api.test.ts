import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as api from "../../src/index.js";
import { ROOT } from "../helpers/cli.js";

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

describe("the public API (src/index.ts)", () => {
  it("exports these values and no internals", () => {
    expect(Object.keys(api).sort()).toEqual(
      [
        "CancelledError",
        "ConfigError",
        "DATATYPES",
        "DeadlineExceededError",
        "InternalError",
        "InvalidArgumentError",
        "MethodNotAllowedError",
        "NotFoundError",
        "Registry",
        "ResourceExhaustedError",
        "Server",
        "Tensor",
        "TensorbindError",
        "UnavailableError",
        "UnimplementedError",
        "VERSION",
        "batch",
        "batchAware",
        "bind",
        "constantPadder",
        "defaultRegistry",
        "fillOptionals",
        "firstValue",
        "groupByKeys",
        "groupByValues",
        "isTensorbindError",
        "native",
        "padBatch",
        "pipeline",
        "python",
        "sample",
        "serve",
        "tensor",
        "unbind",
      ].sort(),
    );
    for (const internal of [
      "STATUS_TABLE",
      "GrpcStatus",
      "isServerFault",
      "unknownModelError",
      "toTensorbindError",
    ])
      expect(api).not.toHaveProperty(internal);
  });

  it("re-exports by name only", () => {
    const index = readFileSync(join(ROOT, "src/index.ts"), "utf8");
    expect(index).not.toMatch(/export \*/);
  });

  it("documents every exported value with a TSDoc @example where it is declared", () => {
    const files = sources(join(ROOT, "src")).map((f) => readFileSync(f, "utf8"));
    const missing = Object.keys(api).filter((name) => {
      const decl = new RegExp(
        `/\\*\\*((?:(?!\\*/)[\\s\\S])*)\\*/\\s*export (?:async )?(?:function|class|const) ${name}\\b`,
      );
      return !files.some((text) => decl.exec(text)?.[1]?.includes("@example"));
    });
    expect(missing).toEqual([]);
  });
});
