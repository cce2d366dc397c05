import { readdirSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { INTERPRETER, infer, ROOT, spawnServer } from "../helpers/cli.js";

const FIXTURES = join(ROOT, "test/fixtures/prewarm");
const PORTS = ["--http-port", "0", "--allow-grpc", "false", "--allow-metrics", "false"];
const TOOK_OVER = /took over the interpreter started ahead/;

/** [instance, stdin is /dev/null, TB_PREWARM_MARK=set seen, argv[0] is worker.py, pid] as the worker saw them. */
async function workerFacts(http: string): Promise<number[]> {
  const r = await infer(http, "worker_env", [{ name: "x", datatype: "INT32", shape: [1], data: [0] }]);
  expect(r.status).toBe(200);
  return r.body.outputs[0].data as number[];
}

/** Prewarmed interpreters still running under `pid`. */
function prewarmChildren(pid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const [, state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const cmd = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      if (Number(ppid) === pid && state !== "Z" && cmd.includes("tensorbind._proxy.prewarm"))
        found.push(Number(entry));
    } catch {} // gone meanwhile
  }
  return found;
}

async function noPrewarmLeft(pid: number): Promise<number[]> {
  for (let i = 0; i < 40 && prewarmChildren(pid).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
  return prewarmChildren(pid);
}

describe("tensorbind serve starts a Python worker's interpreter ahead of the model", () => {
  it("the first worker takes it over and runs as a spawned worker would", async () => {
    const env = { ...process.env, TB_PREWARM_MARK: "set" };
    const server = await spawnServer(
      [join(FIXTURES, "worker_env.py"), "--python", INTERPRETER, "--log-level", "debug", ...PORTS],
      { env },
    );
    try {
      // With one CPU there is no head start to take over (the two would only take turns).
      if (availableParallelism() >= 2) expect(server.output()).toMatch(TOOK_OVER);
      else expect(server.output()).not.toMatch(TOOK_OVER);
      const [instance, stdinNull, mark, argv0] = await workerFacts(server.info.http);
      expect({ instance, stdinNull, mark, argv0 }).toEqual({ instance: 0, stdinNull: 1, mark: 1, argv0: 1 });
    } finally {
      expect(await server.stop("SIGTERM")).toBe(0);
    }
  }, 60_000);

  it("a worker whose environment changed after the head start is spawned afresh; the head start is stopped", async () => {
    const { TB_PREWARM_MARK: _, ...env } = process.env;
    const server = await spawnServer(
      [join(FIXTURES, "models.ts"), "--python", INTERPRETER, "--log-level", "debug", ...PORTS],
      { env },
    );
    try {
      expect(server.output()).not.toMatch(TOOK_OVER);
      const [instance, stdinNull, mark] = await workerFacts(server.info.http);
      expect({ instance, stdinNull, mark }).toEqual({ instance: 0, stdinNull: 1, mark: 1 });
      expect(await noPrewarmLeft(server.info.pid)).toEqual([]);
    } finally {
      expect(await server.stop("SIGTERM")).toBe(0);
    }
  }, 60_000);
});
