// The server as Singularity/Apptainer runs it: an unprivileged user, a read-only image (here: the
// host's /usr, /etc, the repository and the Python install, bound read-only by bubblewrap), a
// tmpfs /tmp, the host's /dev/shm and the host network. It may write only below its runtime dir.
import { spawnSync } from "node:child_process";
import { existsSync, lstatSync, readdirSync, readlinkSync, realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { INTERPRETER, infer, ROOT, spawnServer } from "../helpers/cli.js";
import { descendants, mappedShm, running } from "../helpers/procs.js";

const SANDBOX_UID = "65534"; // nobody, as a typical unprivileged cluster user

/** Why bwrap cannot make a sandbox here, or undefined when it can. */
function bwrapProblem(): string | undefined {
  const r = spawnSync("bwrap", ["--unshare-user", "--uid", SANDBOX_UID, "--ro-bind", "/", "/", "true"], {
    encoding: "utf8",
  });
  if (r.error) return `bwrap is not installed (${r.error.message}); apt-get install bubblewrap`;
  if (r.status !== 0) return `bwrap cannot create a user namespace here: ${r.stderr.trim()}`;
  return undefined;
}

/** The interpreter's prefix and base prefix: a venv needs the Python it was made from. */
function pythonPrefixes(): string[] {
  const r = spawnSync(INTERPRETER, ["-c", "import sys; print(sys.prefix); print(sys.base_prefix)"], {
    encoding: "utf8",
  });
  return r.stdout.split("\n").filter((p) => p !== "");
}

function sandbox(argv: string[], dir: string): string[] {
  const args = ["--unshare-user", "--uid", SANDBOX_UID, "--gid", SANDBOX_UID, "--die-with-parent"];
  args.push("--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc");
  for (const top of ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]) {
    if (!existsSync(top)) continue;
    if (lstatSync(top).isSymbolicLink()) args.push("--symlink", readlinkSync(top), top);
    else args.push("--ro-bind", top, top);
  }
  args.push("--proc", "/proc", "--dev", "/dev", "--dev-bind", "/dev/shm", "/dev/shm", "--tmpfs", "/tmp");
  const ro = new Set([ROOT, dirname(dirname(realpathSync(process.execPath))), ...pythonPrefixes()]);
  for (const path of ro) if (!path.startsWith("/usr/")) args.push("--ro-bind", path, path);
  args.push("--bind", dir, dir, "--chdir", ROOT, "--setenv", "HOME", dir);
  // After the server exits, list whatever it left in the tmpfs /tmp. Bound paths that lie under /tmp
  // (the test's dir; the checkout itself when it was cloned there) and the folders bwrap made to
  // mount them are not the server's doing.
  const skip = new Set<string>();
  for (const path of [dir, ...ro]) {
    if (!path.startsWith("/tmp/")) continue;
    skip.add(`${path}*`);
    for (let up = dirname(path); up !== "/tmp" && up !== "/"; up = dirname(up)) skip.add(up);
  }
  const notBound = [...skip].map((p) => `-not -path '${p}'`).join(" ");
  const script = `echo "uid: $(id -u)"; "$@"; code=$?; echo "tmp-left: $(find /tmp -mindepth 1 ${notBound} | tr '\\n' ' ')"; exit $code`;
  return ["bwrap", ...args, "sh", "-c", script, "sh", ...argv];
}

const problem = bwrapProblem();
// CI installs bubblewrap (.ci/run) on machines where it works: there a problem is a failure.
const mustRun = process.env.CI === "true";
if (problem !== undefined && !mustRun) console.warn(`skipping the container test: ${problem}`);

describe.skipIf(problem !== undefined && !mustRun)(
  "the server in an Apptainer-like sandbox (bubblewrap)",
  () => {
    it("serves a Python model as an unprivileged user on a read-only tree, writing only its runtime dir", async () => {
      expect(problem, "bubblewrap must work in CI").toBeUndefined();
      const model = join(ROOT, "examples/python-numpy/model.py");
      const server = await spawnServer(
        ["--http-port", "0", "--grpc-port", "0", "--metrics-port", "0", model, "--python", INTERPRETER],
        {
          // the runtime dir is the only writable place; the ready file goes inside it
          readyFile: (dir) => join(dir, "run", "ready.json"),
          wrap: (argv, dir) => sandbox([...argv, "--runtime-dir", join(dir, "run")], dir),
        },
      );
      let workers: number[] = [];
      try {
        expect(server.output()).toMatch(new RegExp(`^uid: ${SANDBOX_UID}$`, "m"));
        const res = await infer(server.info.http, "linear_softmax", [
          { name: "x", datatype: "FP32", shape: [1, 4], data: [0, 0, 0, 0] },
        ]);
        expect(res.status).toBe(200);
        const probs = res.body.outputs.find((o: { name: string }) => o.name === "probs");
        // zero input, zero bias: equal logits, so a uniform softmax
        for (const p of probs.data) expect(p).toBeCloseTo(1 / 3, 6);
        workers = descendants(server.info.pid);
        const shm = mappedShm([server.info.pid, ...workers]);
        process.kill(server.info.pid, "SIGTERM"); // the server itself, as a scheduler would (bwrap does not forward)
        expect(await server.exited).toBe(0);
        expect(workers.filter(running)).toEqual([]);
        expect(readdirSync(join(server.dir, "run"))).toEqual([]); // sockets and ready file removed
        expect(shm.filter((n) => existsSync(`/dev/shm/${n}`))).toEqual([]);
        expect(server.output()).toMatch(/tmp-left: \s*$/m);
      } finally {
        // Killing bwrap alone would orphan the server below the sandbox's shell: end it first.
        if (running(server.info.pid)) process.kill(server.info.pid, "SIGKILL");
        await server.stop("SIGKILL");
      }
    }, 90_000);
  },
);
