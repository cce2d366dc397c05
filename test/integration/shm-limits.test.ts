import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { python } from "../../src/backends/python/index.js";
import { tensorSpec } from "../../src/core/spec.js";
import { INTERPRETER, ROOT, type ServerProcess, spawnServer } from "../helpers/cli.js";
import { binaryBody, startServer } from "../helpers/server.js";

// Shared memory is bounded: a full /dev/shm or the configured cap fails the one request that
// does not fit with 503 / RESOURCE_EXHAUSTED naming the limit — never a SIGBUS that kills the
// server — and the server and its other models keep serving.

const SHM_BYTES = 24 << 20;
const MODELS = join(ROOT, "test/fixtures/shm-limits/models.ts");

/** Why bwrap cannot give the server a private /dev/shm here, or undefined when it can. */
function bwrapProblem(): string | undefined {
  const userns = process.getuid?.() === 0 ? [] : ["--unshare-user"];
  const r = spawnSync(
    "bwrap",
    [...userns, "--dev-bind", "/", "/", "--size", "1048576", "--tmpfs", "/dev/shm", "true"],
    {
      encoding: "utf8",
    },
  );
  if (r.error) return `bwrap is not installed (${r.error.message}); apt-get install bubblewrap`;
  if (r.status !== 0) return `bwrap cannot mount a tmpfs here: ${r.stderr.trim()}`;
  return undefined;
}

async function inferEcho(base: string, model: string, floats: number, output: string) {
  const x = new Float32Array(floats).fill(0.25);
  const header = {
    inputs: [
      { name: "x", datatype: "FP32", shape: [floats], parameters: { binary_data_size: x.byteLength } },
    ],
    outputs: [{ name: output, parameters: { binary_data: true } }],
  };
  const { body, headerLength } = binaryBody(header, [new Uint8Array(x.buffer)]);
  const res = await fetch(`${base}/v2/models/${model}/infer`, {
    method: "POST",
    headers: { "Inference-Header-Content-Length": String(headerLength) },
    body,
  });
  const buf = Buffer.from(await res.arrayBuffer());
  return { status: res.status, text: res.status === 200 ? "" : buf.toString(), bytes: buf.length };
}

const problem = bwrapProblem();
const mustRun = process.env.CI === "true";
if (problem !== undefined && !mustRun) console.warn(`skipping the small /dev/shm test: ${problem}`);

describe.skipIf(problem !== undefined && !mustRun)("a server on a 24 MiB /dev/shm (bubblewrap tmpfs)", () => {
  let server: ServerProcess;
  beforeAll(async () => {
    expect(problem, "bubblewrap must work in CI").toBeUndefined();
    server = await spawnServer(["--http-port", "0", "--grpc-port", "0", "--metrics-port", "0", MODELS], {
      env: { ...process.env, TENSORBIND_PYTHON: INTERPRETER },
      wrap: (argv) => [
        "bwrap",
        ...(process.getuid?.() === 0 ? [] : ["--unshare-user"]),
        "--dev-bind",
        "/",
        "/",
        "--size",
        String(SHM_BYTES),
        "--tmpfs",
        "/dev/shm",
        "--die-with-parent",
        ...argv,
      ],
    });
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });

  it("says at start that /dev/shm is too small, and how to fix it", () => {
    expect(server.output()).toMatch(/\/dev\/shm has 2\d(\.\d)? MiB free of 24 MiB/);
    expect(server.output()).toContain("--shm-size");
    expect(server.output()).toContain("medium: Memory");
  });

  it("answers what does not fit with 503 naming /dev/shm, keeps serving, and never faults", async () => {
    const base = server.info.http;
    expect((await inferEcho(base, "py_echo", 1 << 18, "OUT_x")).status).toBe(200); // 1 MiB
    // 16 MiB in fits; 16 MiB out does not: the worker's fallocate fails, not a page fault.
    const out = await inferEcho(base, "py_echo", 4 << 20, "OUT_x");
    expect(out.status).toBe(503);
    expect(out.text).toMatch(/\/dev\/shm cannot hold .*--shm-size/);
    // 32 MiB in does not fit at all: refused before the body is read.
    const big = await inferEcho(base, "py_echo", 8 << 20, "OUT_x");
    expect(big.status).toBe(503);
    expect(big.text).toMatch(/\/dev\/shm cannot hold/);
    for (let i = 0; i < 3; i++) {
      expect((await inferEcho(base, "py_echo", 1 << 18, "OUT_x")).status).toBe(200);
      expect((await inferEcho(base, "js_echo", 1 << 18, "y")).status).toBe(200);
    }
    expect(server.child.exitCode).toBeNull();
    expect(server.child.signalCode).toBeNull();
  }, 60_000);
});

describe("--shm-limit", () => {
  let srv: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    const fixture = join(ROOT, "python/tests/fixtures/models.py");
    srv = await startServer(
      [
        {
          name: "echo",
          fn: python(fixture, "echo", { interpreter: INTERPRETER }),
          inputs: { x: tensorSpec("FP32", [-1]) },
          outputs: { OUT_x: tensorSpec("FP32", [-1]) },
        },
      ],
      { shmLimit: "8MiB" },
    );
  }, 60_000);
  afterAll(async () => {
    await srv?.close();
  });

  it("refuses a request past the server-wide cap with 503 naming the limit, then serves the next", async () => {
    const base = srv.urls.http!;
    const over = await inferEcho(base, "echo", 3 << 20, "OUT_x"); // 12 MiB
    expect(over.status).toBe(503);
    expect(over.text).toMatch(/limit of 8 MiB \(--shm-limit/);
    expect((await inferEcho(base, "echo", 1 << 18, "OUT_x")).status).toBe(200);
  }, 30_000);
});
