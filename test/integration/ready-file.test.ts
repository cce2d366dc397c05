import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, watch, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BIN } from "../helpers/cli.js";

const MODEL = `import { bind, type Tensor, tensor } from "tensorbind";
bind({ name: "id", inputs: { X: tensor("FP32", [-1]) }, outputs: { Y: tensor("FP32", [-1]) },
  fn: ({ X }) => ({ Y: X as Tensor }) });
`;

describe("--ready-file", () => {
  it("appears whole: whoever polls for it never reads it empty or half-written", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tb-ready-"));
    const ready = join(dir, "ready.json");
    writeFileSync(join(dir, "model.ts"), MODEL);
    const seen: string[] = [];
    // Every change in the folder, read at once and again: the moments a poller could have looked.
    const watcher = watch(dir, () => {
      for (let i = 0; i < 50 && existsSync(ready); i++) seen.push(readFileSync(ready, "utf8"));
    });
    const child = spawn(
      process.execPath,
      [
        BIN,
        "serve",
        join(dir, "model.ts"),
        "--http-port",
        "0",
        "--allow-grpc",
        "false",
        "--allow-metrics",
        "false",
        "--ready-file",
        ready,
      ],
      { stdio: "ignore" },
    );
    try {
      const end = Date.now() + 30_000;
      while (seen.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 100));
      expect(seen.length).toBeGreaterThan(0);
      for (const text of seen) expect(JSON.parse(text)).toMatchObject({ pid: child.pid });
    } finally {
      watcher.close();
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
      rmSync(dir, { recursive: true, force: true });
    }
  }, 40_000);
});
