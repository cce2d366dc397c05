import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { BIN, INTERPRETER, ROOT } from "../../helpers/cli.js";
import { descendants, running } from "../../helpers/procs.js";

// Defect 7: SIGTERM was ignored when stdout/stderr was a closed pipe (`tensorbind serve … | head`,
// then SIGTERM: alive minutes later); Ctrl-C printed a KeyboardInterrupt traceback from every
// Python worker. Logging must never stop shutdown, and workers exit quietly on the server's signal.

const FIXTURE = "test/integration/hardening/fixtures/mixed.ts";
let child: ChildProcess | undefined;
let dir: string | undefined;
afterEach(() => {
  if (child?.pid !== undefined && running(child.pid)) child.kill("SIGKILL");
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function start(
  detached: boolean,
): Promise<{ child: ChildProcess; http: string; output: () => string }> {
  dir = mkdtempSync(join(tmpdir(), "tb-sig-"));
  const ready = join(dir, "ready.json");
  const c = spawn(
    process.execPath,
    // biome-ignore format: one flag per line
    [BIN, "serve", FIXTURE, "--http-port", "0", "--grpc-port", "0", "--metrics-port", "0",
      "--log-requests", "true", "--ready-file", ready],
    {
      cwd: ROOT,
      env: { ...process.env, TENSORBIND_PYTHON: INTERPRETER },
      stdio: ["ignore", "pipe", "pipe"],
      detached,
    },
  );
  child = c;
  let out = "";
  c.stdout!.on("data", (d) => (out += d));
  c.stderr!.on("data", (d) => (out += d));
  const end = Date.now() + 60_000;
  while (!existsSync(ready)) {
    if (c.exitCode !== null || Date.now() > end) throw new Error(`not ready:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const { http } = JSON.parse(readFileSync(ready, "utf8")) as { http: string };
  return { child: c, http, output: () => out };
}

const exitOf = (c: ChildProcess, ms: number) =>
  new Promise<number | string | null | "timeout">((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) return resolve(c.exitCode ?? c.signalCode);
    const t = setTimeout(() => resolve("timeout"), ms);
    c.once("exit", (code, sig) => {
      clearTimeout(t);
      resolve(code ?? sig);
    });
  });

const request = (http: string, model: string) =>
  fetch(`${http}/v2/models/${model}/infer`, {
    method: "POST",
    body: JSON.stringify({ inputs: [{ name: "x", shape: [1], datatype: "INT32", data: [1] }] }),
  });

describe("defect 7: signals", () => {
  it("stops on SIGTERM when its stdout and stderr are closed pipes", async () => {
    const s = await start(false);
    expect((await request(s.http, "js_echo")).status).toBe(200);
    // The reader goes away (`| head` exiting): every later write meets EPIPE.
    s.child.stdout!.destroy();
    s.child.stderr!.destroy();
    // Requests keep logging (--log-requests) into the closed pipes.
    for (let i = 0; i < 5; i++) expect((await request(s.http, "js_echo")).status).toBe(200);
    const workers = descendants(s.child.pid!);
    s.child.kill("SIGTERM");
    expect(await exitOf(s.child, 15_000)).toBe(0);
    await new Promise((r) => setTimeout(r, 500));
    expect(workers.filter(running)).toEqual([]);
  }, 90_000);

  it("exits quietly on Ctrl-C: no KeyboardInterrupt traceback from the Python workers", async () => {
    const s = await start(true);
    expect((await request(s.http, "py_echo")).status).toBe(200);
    // Ctrl-C signals the whole foreground process group, workers included.
    process.kill(-s.child.pid!, "SIGINT");
    expect(await exitOf(s.child, 15_000)).toBe(0);
    await new Promise((r) => setTimeout(r, 300));
    expect(s.output()).not.toMatch(/KeyboardInterrupt|Traceback/);
    expect(s.output()).toMatch(/server stopped/);
  }, 90_000);
});
