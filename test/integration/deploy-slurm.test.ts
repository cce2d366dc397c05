// deploy/slurm for real: a one-node Slurm cluster (Debian's slurm-wlm + munge, started here),
// `sbatch` of three server tasks, nginx in front, and a tritonclient client step through nginx.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, INTERPRETER, ROOT } from "../helpers/cli.js";
import { freePort, have } from "../helpers/load-balancer.js";

const SLURM = join(ROOT, "deploy/slurm");

describe("deploy/slurm: sbatch with three servers behind nginx", () => {
  let cluster = "";
  let env: NodeJS.ProcessEnv = {};
  beforeAll(() => {
    for (const tool of ["sbatch", "slurmctld", "slurmd", "munged", "nginx"]) {
      expect(have(tool), `${tool} must be installed (CI installs slurm-wlm, munge and nginx)`).toBe(true);
    }
    cluster = mkdtempSync(join(tmpdir(), "tb-slurm-"));
    execFileSync(join(SLURM, "local-cluster.sh"), ["start", cluster], { stdio: "pipe" });
    env = { ...process.env, SLURM_CONF: join(cluster, "slurm.conf") };
  });
  afterAll(() => {
    if (cluster) execFileSync(join(SLURM, "local-cluster.sh"), ["stop", cluster], { stdio: "pipe" });
    rmSync(cluster, { recursive: true, force: true });
  });

  it("serves through nginx to a tritonclient client step, then stops every server cleanly", async () => {
    const work = join(cluster, "job");
    execFileSync("mkdir", ["-p", work]);
    const [lbHttp, lbGrpc] = [await freePort(), await freePort()];
    let out: string;
    try {
      out = execFileSync(
        "sbatch",
        [
          "--wait",
          "--ntasks=3",
          `--output=${work}/job.out`,
          join(SLURM, "tensorbind.sbatch"),
          "examples/quickstart/models.ts",
        ],
        {
          cwd: ROOT,
          env: {
            ...env,
            JOBDIR: join(work, "files"),
            TENSORBIND: `${process.execPath} ${BIN}`,
            TENSORBIND_SHUTDOWN_DELAY_MS: "200",
            LB_HTTP_PORT: String(lbHttp),
            LB_GRPC_PORT: String(lbGrpc),
            CLIENT: `${INTERPRETER} ${join(SLURM, "example-client.py")} --requests 30`,
          },
          encoding: "utf8",
          timeout: 90_000,
        },
      );
    } catch (err) {
      const log = existsSync(join(work, "job.out"))
        ? readFileSync(join(work, "job.out"), "utf8")
        : "(no job output)";
      throw new Error(`sbatch failed: ${(err as Error).message}\n${log}`);
    }
    expect(out).toMatch(/Submitted batch job \d+/);
    const log = readFileSync(join(work, "job.out"), "utf8");
    console.log(log);
    expect(log).toContain("3 servers ready");
    expect(log).toMatch(/client: 60 requests over HTTP and gRPC in [\d.]+ s, 0 wrong/);
    expect(log).toContain("client exited with 0");
    // Each server got SIGTERM at the end, drained and stopped (not killed).
    const logs = join(work, "files/logs");
    const tasks = readdirSync(logs).filter((f) => /^task-\d+\.log$/.test(f));
    expect(tasks).toHaveLength(3);
    for (const task of tasks) expect(readFileSync(join(logs, task), "utf8")).toContain("server stopped");
  }, 120_000);
});
