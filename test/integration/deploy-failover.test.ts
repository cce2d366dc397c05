// Three replicas behind nginx and behind HAProxy (deploy/slurm/*-conf.sh), steady HTTP and gRPC
// load, one replica SIGKILLed and one SIGTERMed: the client must see zero failed requests.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type ServerProcess, spawnServer } from "../helpers/cli.js";
import { inferenceClient, rawRequest } from "../helpers/grpc.js";
import { type Balancer, have, jobDirFor, startBalancer } from "../helpers/load-balancer.js";
import { simpleRequest } from "../helpers/models.js";

const MODELS = "examples/quickstart/models.ts";
const INT32x16 = new Uint8Array(new Int32Array(16).fill(3).buffer);

interface LoadResult {
  ok: number;
  failed: number;
  failedHttp: number;
  failedGrpc: number;
  errors: string[];
  /** Every failed call: when it was sent (ms since the load began) and what it got. */
  failures: { sentMs: number; error: string }[];
  latenciesMs: number[];
}

/** Closed-loop clients hitting the balancer until `until` resolves. */
async function load(lb: Balancer, until: Promise<void>, httpClients: number, grpcClients: number) {
  const result: LoadResult = {
    ok: 0,
    failed: 0,
    failedHttp: 0,
    failedGrpc: 0,
    errors: [],
    failures: [],
    latenciesMs: [],
  };
  const start = performance.now();
  let done = false;
  void until.then(() => (done = true));
  const record = (t0: number, error?: string) => {
    result.latenciesMs.push(performance.now() - t0);
    if (error === undefined) result.ok++;
    else {
      result.failed++;
      if (error.startsWith("HTTP")) result.failedHttp++;
      else result.failedGrpc++;
      result.failures.push({ sentMs: t0 - start, error });
      if (result.errors.length < 5) result.errors.push(error);
    }
  };
  const httpLoop = async () => {
    while (!done) {
      const t0 = performance.now();
      try {
        const res = await fetch(`${lb.http}/v2/models/simple/infer`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(simpleRequest),
        });
        const body = (await res.json()) as { outputs?: { data: number[] }[] };
        record(t0, res.status === 200 && body.outputs?.[0]?.data[1] === 2 ? undefined : `HTTP ${res.status}`);
      } catch (err) {
        record(t0, `HTTP ${(err as Error).message}`);
      }
    }
  };
  const client = inferenceClient(lb.grpc);
  const grpcLoop = async () => {
    while (!done) {
      const t0 = performance.now();
      try {
        const res = await client.call(
          "ModelInfer",
          rawRequest("simple", [
            { name: "INPUT0", datatype: "INT32", shape: [1, 16], bytes: INT32x16 },
            { name: "INPUT1", datatype: "INT32", shape: [1, 16], bytes: INT32x16 },
          ]),
          { deadline: new Date(Date.now() + 10_000) },
        );
        record(t0, res.raw_output_contents?.length === 2 ? undefined : "gRPC: no outputs");
      } catch (err) {
        record(t0, `gRPC ${(err as { code?: number }).code}: ${(err as Error).message}`);
      }
    }
  };
  await Promise.all([
    ...Array.from({ length: httpClients }, httpLoop),
    ...Array.from({ length: grpcClients }, grpcLoop),
  ]);
  client.close();
  return result;
}

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};

const HTTP_CLIENTS = 4;
const GRPC_CLIENTS = 4;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe.each(["haproxy", "nginx"] as const)("failover behind %s", (kind) => {
  let servers: ServerProcess[] = [];
  let lb: Balancer | undefined;
  let dir = "";
  afterEach(async () => {
    await lb?.stop();
    await Promise.all(servers.map((s) => s.stop("SIGKILL")));
    rmSync(dir, { recursive: true, force: true });
    servers = [];
    lb = undefined;
  });

  it("3 replicas, one SIGKILLed and one SIGTERMed under load: no failed request that the balancer can retry", async () => {
    expect(have(kind), `${kind} must be installed (CI installs it)`).toBe(true);
    dir = mkdtempSync(join(tmpdir(), `tb-failover-${kind}-`));
    const args = [
      MODELS,
      "--http-port",
      "0",
      "--grpc-port",
      "0",
      "--allow-metrics",
      "false",
      "--shutdown-delay-ms",
      "1500",
    ];
    servers = await Promise.all([0, 1, 2].map(() => spawnServer(args)));
    lb = await startBalancer(kind, jobDirFor(dir, servers));

    let stopLoad!: () => void;
    const until = new Promise<void>((r) => (stopLoad = r));
    const loadStart = performance.now();
    const running = load(lb, until, HTTP_CLIENTS, GRPC_CLIENTS);
    await sleep(1500);
    const killedAtMs = performance.now() - loadStart;
    servers[0]!.child.kill("SIGKILL");
    await sleep(1500);
    const termed = servers[1]!.stop("SIGTERM");
    await sleep(3500);
    stopLoad();
    const result = await running;
    const termCode = await termed;

    const summary = {
      balancer: kind,
      requests: result.ok + result.failed,
      failedHttp: result.failedHttp,
      failedGrpc: result.failedGrpc,
      p50Ms: +percentile(result.latenciesMs, 50).toFixed(1),
      p99Ms: +percentile(result.latenciesMs, 99).toFixed(1),
      maxMs: +Math.max(...result.latenciesMs).toFixed(1),
      errors: result.errors,
    };
    console.log(`failover ${JSON.stringify(summary)}`);
    if (kind === "haproxy") {
      // HAProxy resends every request that met a dead or draining replica before its answer
      // began. What no proxy can resend is a gRPC call whose response the SIGKILLed replica had
      // begun to send (headers out, trailers not yet: grpc-js sends them once the message has
      // been flushed): the client sees the stream end without a gRPC status. Seen in one CI run
      // of many (2 calls) on a loaded machine; any other failure, or at another moment, fails.
      expect(result.failedHttp).toBe(0);
      const unretryable = (f: { sentMs: number; error: string }) =>
        f.error.includes("without gRPC status") && Math.abs(f.sentMs - killedAtMs) < 1000;
      expect(result.failures.filter((f) => !unretryable(f))).toEqual([]);
      expect(result.failedGrpc).toBeLessThanOrEqual(GRPC_CLIENTS);
    } else {
      // nginx streams a gRPC call's body upstream and cannot resend it: calls in flight on the
      // SIGKILLed replica, or sent to the SIGTERMed one just as it closed, fail with UNAVAILABLE —
      // at most one per gRPC client at each of the two kills. HTTP is always retried.
      expect(result.failedHttp).toBe(0);
      expect(result.failedGrpc).toBeLessThanOrEqual(2 * GRPC_CLIENTS);
    }
    expect(result.ok).toBeGreaterThan(200);
    expect(termCode).toBe(0); // the SIGTERMed replica drained and exited cleanly
    // The survivor still answers through the balancer.
    expect((await fetch(`${lb.http}/v2/health/ready`)).status).toBe(200);
  }, 60_000);
});
