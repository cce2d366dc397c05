// The container image's root filesystem run the way Apptainer runs an image: unprivileged
// (a user namespace, uid 10001), the whole tree read-only, only /tmp (tmpfs) and a runtime dir
// writable, the host's network and /dev/shm, the image's environment — serving a JS and a Python
// model. CI builds the image (deploy/container/build.sh) and unpacks it (deploy/container/rootfs.sh).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, spawnServer } from "../helpers/cli.js";

const ROOTFS = process.env.TENSORBIND_IMAGE_ROOTFS ?? join(ROOT, ".tools/image/rootfs");
const MODELS = join(ROOT, "test/fixtures/image-models");

/**
 * The argv spawnServer would run (`node bin/tensorbind.js serve …args --ready-file F`) as a
 * bubblewrap command over the image: its own `tensorbind serve`, the test's folder (where the
 * ready file goes) bound at /tmp/run, the models at /models, the image's environment only.
 */
function inImage(argv: string[], dir: string): string[] {
  // Apptainer's defaults: own user and mount namespaces, the host's pid and network namespaces.
  const args = ["--unshare-user", "--unshare-ipc", "--unshare-uts", "--uid", "10001", "--gid", "10001"];
  args.push("--die-with-parent", "--ro-bind", ROOTFS, "/", "--proc", "/proc", "--dev", "/dev");
  args.push("--tmpfs", "/tmp", "--dev-bind", "/dev/shm", "/dev/shm", "--bind", dir, "/tmp/run");
  args.push("--ro-bind", MODELS, "/models", "--clearenv");
  for (const line of readFileSync(`${ROOTFS}.env`, "utf8").trim().split("\n")) {
    const eq = line.indexOf("=");
    args.push("--setenv", line.slice(0, eq), line.slice(eq + 1));
  }
  args.push("--setenv", "TENSORBIND_HOST", "127.0.0.1", "--setenv", "TENSORBIND_SHUTDOWN_DELAY_MS", "0");
  // Apptainer runs the %runscript (tensorbind serve) directly, not as pid 1: no tini.
  return ["bwrap", ...args, "tensorbind", ...argv.slice(2).map((a) => a.replace(dir, "/tmp/run"))];
}

describe("the container image, run as Apptainer would (bubblewrap)", () => {
  it("serves a JS and a Python model from a read-only root as an unprivileged user", async () => {
    expect(
      existsSync(join(ROOTFS, "opt/tensorbind/bin/tensorbind.js")),
      `no image at ${ROOTFS}: CI builds it`,
    ).toBe(true);
    const ports = ["--http-port", "0", "--grpc-port", "0", "--metrics-port", "0"];
    const server = await spawnServer(
      ["/models/models.ts", "/models/model.py", ...ports, "--runtime-dir", "/tmp/run/rt"],
      { timeoutMs: 60_000, wrap: inImage },
    );
    try {
      const infer = async (model: string) => {
        const res = await fetch(`${server.info.http}/v2/models/${model}/infer`, {
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
      process.kill(server.info.pid, "SIGTERM");
    }
    expect(await server.exited).toBe(0);
    expect(server.output()).toContain("server stopped");
    await server.stop();
  }, 90_000);
});
