// What the terminal shows: readable lines at a TTY, JSON otherwise; the banner once; a Python
// traceback as one record; no doubled messages; stack traces that name files which exist.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { BIN, INTERPRETER, infer, ROOT, spawnServer } from "../helpers/cli.js";
import { waitUntil } from "../helpers/procs.js";

const run = promisify(execFile);
const DIR = mkdtempSync(join(tmpdir(), "tb-logs-"));
afterAll(() => rmSync(DIR, { recursive: true, force: true }));
const MODELS = join(ROOT, "examples/quickstart/models.ts");
const PORTS = ["--http-port", "0", "--allow-grpc", "false", "--allow-metrics", "false"];

const PY = `import tensorbind

@tensorbind.model(inputs={"x": ("FP32", [-1])}, outputs={"y": ("FP32", [-1])})
def refuse(x):
    raise tensorbind.InvalidArgument("factor must be positive")

@tensorbind.model(inputs={"x": ("FP32", [-1])}, outputs={"y": ("FP32", [-1])})
def boom(x):
    raise ValueError("factor must be positive")
`;

describe("the server's terminal output", () => {
  it("at a terminal: readable lines and the banner once, no JSON", async () => {
    const ready = join(DIR, "tty-ready.json");
    const cmd = [process.execPath, BIN, "serve", MODELS, ...PORTS, "--ready-file", ready]
      .map((a) => `'${a}'`)
      .join(" ");
    // `script` gives the server a pseudo-terminal, as a person's shell does; it stops after 4 s.
    const { stdout } = await run("script", ["-qec", `timeout -s TERM 6 ${cmd}`, "/dev/null"], {
      cwd: ROOT,
      env: { ...process.env, TENSORBIND_LOG_FORMAT: "", NO_COLOR: "1" },
      timeout: 30_000,
    }).catch((e: { stdout: string }) => e);
    expect(stdout).toMatch(/tensorbind is ready\r?\n {2}HTTP {2}http:\/\/127\.0\.0\.1:\d+\/v2/);
    expect(stdout.match(/tensorbind is ready/g)).toHaveLength(1);
    expect(stdout).not.toMatch(/\{"level"/);
    expect(stdout).toMatch(/\d\d:\d\d:\d\d INFO {2}server stopped/);
  });

  it("otherwise: JSON lines, one traceback record, no doubled message, stacks into shipped files", async () => {
    const model = join(DIR, "fac.py");
    writeFileSync(model, PY);
    const srv = await spawnServer([model, ...PORTS, "--python", INTERPRETER, "--log-level", "debug"]);
    let lines: Record<string, unknown>[] = [];
    try {
      const x = [{ name: "x", datatype: "FP32", shape: [1], data: [1] }];
      expect((await infer(srv.info.http, "refuse", x)).status).toBe(400);
      expect((await infer(srv.info.http, "boom", x)).status).toBe(500);
      expect(await waitUntil(() => /request failed/.test(srv.output()), 5000)).toBe(true);
      await new Promise((r) => setTimeout(r, 300)); // the traceback's record
    } finally {
      await srv.stop();
    }
    const raw = srv.output().trim().split("\n");
    lines = raw.map((l) => JSON.parse(l) as Record<string, unknown>); // every line is JSON
    expect(lines.filter((l) => l.msg === "tensorbind is ready")).toHaveLength(1);
    // No record carries its message twice (`"msg":"…","msg":"request rejected"`).
    for (const l of raw) expect(l.match(/"msg":/g)?.length ?? 0).toBeLessThanOrEqual(1);
    // The worker's traceback is one record, from its header to the exception line.
    const tracebacks = lines.filter((l) => String(l.msg).includes("Traceback (most recent call last)"));
    expect(tracebacks).toHaveLength(1);
    expect(String(tracebacks[0]!.msg)).toMatch(
      /Traceback[\s\S]*fac\.py", line \d+, in boom[\s\S]*ValueError: factor must be positive/,
    );
    // The logged stack names files that exist (the TypeScript sources, through source maps).
    const failed = lines.find((l) => l.msg === "request failed") as { err: { stack: string } };
    const files = [...failed.err.stack.matchAll(/\(?(\/[^():]+\.[jt]s):\d+:\d+\)?/g)].map((m) => m[1]!);
    expect(files.length).toBeGreaterThan(0);
    expect(files.some((f) => f.endsWith(".ts"))).toBe(true);
    for (const f of files) expect(existsSync(f), f).toBe(true);
    expect(readFileSync(join(ROOT, "package.json"), "utf8")).toMatch(/"src",/); // and they ship
  }, 60_000);
});
