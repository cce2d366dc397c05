// The container image's root filesystem run the way Apptainer runs an image: unprivileged
// (a user namespace, uid 10001), the whole tree read-only, only /tmp (tmpfs) and a runtime dir
// writable, the host's network and /dev/shm, the image's environment — serving a JS and a Python
// model. CI builds the image (deploy/container/build.sh) and unpacks it (deploy/container/rootfs.sh).
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "../helpers/cli.js";

const ROOTFS = process.env.TENSORBIND_IMAGE_ROOTFS ?? join(ROOT, ".tools/image/rootfs");
const MODELS = join(ROOT, "test/fixtures/image-models");

describe("the container image, run as Apptainer would (bubblewrap)", () => {
  const run = mkdtempSync(join(tmpdir(), "tb-image-"));
  afterAll(() => rmSync(run, { recursive: true, force: true }));

  it("serves a JS and a Python model from a read-only root as an unprivileged user", async () => {
    expect(
      existsSync(join(ROOTFS, "opt/tensorbind/bin/tensorbind.js")),
      `no image at ${ROOTFS}: CI builds it`,
    ).toBe(true);
    const env = readFileSync(`${ROOTFS}.env`, "utf8").trim().split("\n");
    // Apptainer's defaults: own user and mount namespaces, the host's pid and network namespaces.
    const args = ["--unshare-user", "--unshare-ipc", "--unshare-uts", "--uid", "10001", "--gid", "10001"];
    args.push("--die-with-parent");
    args.push("--ro-bind", ROOTFS, "/", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp");
    args.push(
      "--dev-bind",
      "/dev/shm",
      "/dev/shm",
      "--bind",
      run,
      "/tmp/run",
      "--ro-bind",
      MODELS,
      "/models",
    );
    args.push("--clearenv");
    for (const line of env) {
      const eq = line.indexOf("=");
      args.push("--setenv", line.slice(0, eq), line.slice(eq + 1));
    }
    args.push("--setenv", "TENSORBIND_HOST", "127.0.0.1", "--setenv", "TENSORBIND_SHUTDOWN_DELAY_MS", "0");
    // Apptainer runs the %runscript (tensorbind serve) directly, not as pid 1: no tini.
    args.push("tensorbind", "serve", "/models/models.ts", "/models/model.py");
    args.push("--http-port", "0", "--grpc-port", "0", "--metrics-port", "0");
    args.push("--runtime-dir", "/tmp/run/rt", "--ready-file", "/tmp/run/ready.json");
    const child = spawn("bwrap", args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    let pid: number | undefined;
    try {
      const ready = join(run, "ready.json");
      const end = Date.now() + 60_000;
      while (!existsSync(ready)) {
        if (child.exitCode !== null || Date.now() > end) throw new Error(`not ready:\n${output}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const info = JSON.parse(readFileSync(ready, "utf8")) as { http: string; pid: number };
      const { http } = info;
      pid = info.pid;
      const infer = async (model: string) => {
        const res = await fetch(`${http}/v2/models/${model}/infer`, {
          method: "POST",
          body: JSON.stringify({ inputs: [{ name: "X", datatype: "FP32", shape: [3], data: [1, 2, 3] }] }),
        });
        expect(res.status, await res.clone().text()).toBe(200);
        return ((await res.json()) as { outputs: { data: number[] }[] }).outputs[0]!.data;
      };
      expect(await infer("js_double")).toEqual([2, 4, 6]);
      expect(await infer("py_square")).toEqual([1, 4, 9]);
    } finally {
      // As `apptainer instance stop` does: SIGTERM to the server (bwrap does not forward signals).
      if (pid !== undefined) process.kill(pid, "SIGTERM");
      else child.kill("SIGKILL");
    }
    expect(await exited).toBe(0);
    expect(output).toContain("server stopped");
  }, 90_000);
});
