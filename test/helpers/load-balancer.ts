import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { ROOT, type ServerProcess } from "./cli.js";

/** A free TCP port on loopback (closed again before it is returned). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

/** Whether a program is on PATH (or at an absolute path). */
export function have(program: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${program}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/**
 * Lays out a job folder as deploy/slurm/server-task.sh would (ready/task-N.json and .node), for
 * servers started by a test, so the deploy scripts generate their configuration from it.
 */
export function jobDirFor(dir: string, servers: readonly ServerProcess[]): string {
  mkdirSync(join(dir, "ready"), { recursive: true });
  mkdirSync(join(dir, "logs"), { recursive: true });
  mkdirSync(join(dir, "nginx-tmp"), { recursive: true });
  servers.forEach((s, i) => {
    writeFileSync(join(dir, "ready", `task-${i}.json`), JSON.stringify(s.info));
    writeFileSync(join(dir, "ready", `task-${i}.node`), "127.0.0.1\n");
  });
  return dir;
}

export interface Balancer {
  readonly http: string;
  readonly grpc: string;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

/** Generates the configuration with deploy/slurm/<kind>-conf.sh and runs the balancer in the foreground. */
export async function startBalancer(kind: "nginx" | "haproxy", jobDir: string): Promise<Balancer> {
  const [httpPort, grpcPort] = [await freePort(), await freePort()];
  const script = join(ROOT, "deploy/slurm", `${kind}-conf.sh`);
  const conf = execFileSync(script, [jobDir, String(httpPort), String(grpcPort)], { encoding: "utf8" });
  const file = join(jobDir, `${kind}.conf`);
  writeFileSync(file, conf);
  const argv =
    kind === "nginx"
      ? ["nginx", "-g", "daemon off;", "-e", join(jobDir, "logs/nginx-error.log"), "-c", file]
      : ["haproxy", "-db", "-f", file];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (d) => (output += d));
  child.stderr?.on("data", (d) => (output += d));
  const exited = new Promise<void>((r) => child.on("exit", () => r()));
  const http = `http://127.0.0.1:${httpPort}`;
  const end = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${kind} exited: ${output}`);
    const ok = await fetch(`${http}/v2/health/live`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > end) throw new Error(`${kind} did not come up: ${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    http,
    grpc: `127.0.0.1:${grpcPort}`,
    child,
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}
