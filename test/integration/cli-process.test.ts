// The server as a process a newcomer starts: no helper process left running after a .ts model
// is loaded, and a server started through npx stops when npx is killed.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT, spawnServer } from "../helpers/cli.js";
import { descendants, running, waitUntil } from "../helpers/procs.js";

const MODELS = join(ROOT, "examples/quickstart/models.ts");
const PORTS = ["--http-port", "0", "--allow-grpc", "false", "--allow-metrics", "false"];
const DIR = mkdtempSync(join(tmpdir(), "tb-proc-"));
afterAll(() => rmSync(DIR, { recursive: true, force: true }));

const cmdline = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
  }
};

describe("tensorbind serve as a process", () => {
  it("stops esbuild's service process once the .ts model is loaded", async () => {
    const srv = await spawnServer([MODELS, ...PORTS], {
      env: { ...process.env, TENSORBIND_TS_LOADER: "esbuild" },
    });
    try {
      const helpers = () => descendants(srv.info.pid).filter((p) => /esbuild/.test(cmdline(p)));
      expect(await waitUntil(() => helpers().length === 0, 3000)).toBe(true);
    } finally {
      await srv.stop();
    }
  });

  it("stops when npx, which does not pass the signal on, is killed (npx tensorbind serve … & kill $!)", async () => {
    const ready = join(DIR, "npx-ready.json");
    const npx = spawn(
      "npx",
      ["--no-install", "tensorbind", "serve", MODELS, ...PORTS, "--ready-file", ready],
      {
        cwd: ROOT,
        stdio: "ignore",
        detached: true,
      },
    );
    const npxExited = new Promise<void>((r) => npx.on("exit", () => r()));
    let pid = 0;
    try {
      expect(await waitUntil(() => existsSync(ready), 60_000)).toBe(true);
      pid = (JSON.parse(readFileSync(ready, "utf8")) as { pid: number }).pid;
      expect(pid).not.toBe(npx.pid); // the ready file names the server itself
      npx.kill("SIGTERM"); // `kill $!`: the shell's job is npx
      await npxExited;
      expect(await waitUntil(() => !running(pid), 10_000)).toBe(true);
    } finally {
      if (pid && running(pid)) process.kill(pid, "SIGKILL");
      if (npx.exitCode === null && npx.signalCode === null) process.kill(-npx.pid!, "SIGKILL");
    }
  }, 90_000);

  it("--exit-with-parent: a server whose parent dies stops cleanly", async () => {
    const ready = join(DIR, "parent-ready.json");
    const bin = join(ROOT, "bin/tensorbind.js");
    // A parent that starts the server and is then killed outright (as a crashed supervisor is).
    const script = `const c = require("node:child_process").spawn(process.execPath, ${JSON.stringify([bin, "serve", MODELS, ...PORTS, "--exit-with-parent", "true", "--ready-file", ready])}, { stdio: "ignore" }); setInterval(() => {}, 1000);`;
    const parent = spawn(process.execPath, ["-e", script], { cwd: ROOT, stdio: "ignore" });
    let pid = 0;
    try {
      expect(await waitUntil(() => existsSync(ready), 60_000)).toBe(true);
      pid = (JSON.parse(readFileSync(ready, "utf8")) as { pid: number }).pid;
      parent.kill("SIGKILL");
      expect(await waitUntil(() => !running(pid), 10_000)).toBe(true);
      expect(existsSync(ready)).toBe(false); // a clean stop removes its ready file
    } finally {
      if (pid && running(pid)) process.kill(pid, "SIGKILL");
      parent.kill("SIGKILL");
    }
  }, 90_000);
});
