import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ServerProcess, spawnServer } from "../helpers/cli.js";
import { type Balancer, have, jobDirFor, startBalancer } from "../helpers/load-balancer.js";
import { bytePattern, inferBytes } from "../helpers/server.js";

// A binary body of 1 MiB or more is read past node:http's parser and its connection closes after
// the response (docs/DATA_PLANE.md). The balancers the deploy folder generates must take that in
// their stride: the next request through the same balancer opens a new upstream connection.

const MODELS = "examples/quickstart/models.ts";

async function identity(url: string, n: number, seed: number): Promise<void> {
  const x = bytePattern(n, seed);
  const io = { input: "INPUT0", output: "OUTPUT0", shape: [1, n] };
  const { status, output } = await inferBytes(url, "identity_uint8", x, io);
  expect(status).toBe(200);
  expect(output!.equals(Buffer.from(x))).toBe(true);
}

describe.each(["nginx", "haproxy"] as const)("large bodies behind %s", (kind) => {
  let server: ServerProcess | undefined;
  let lb: Balancer | undefined;
  let dir = "";
  beforeAll(async () => {
    expect(have(kind), `${kind} must be installed (CI installs it)`).toBe(true);
    dir = mkdtempSync(join(tmpdir(), `tb-large-${kind}-`));
    server = await spawnServer([MODELS, "--http-port", "0", "--grpc-port", "0", "--allow-metrics", "false"]);
    lb = await startBalancer(kind, jobDirFor(dir, [server]));
  }, 60_000);
  afterAll(async () => {
    await lb?.stop();
    await server?.stop("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers large and small requests back to back and side by side, every byte right", async () => {
    for (let i = 0; i < 4; i++) await identity(lb!.http, (3 << 20) + i, i); // each closes upstream
    await identity(lb!.http, 1000, 9); // keep-alive again for a small one
    await Promise.all([0, 1, 2, 3].map((i) => identity(lb!.http, (2 << 20) + 17 * i, 20 + i)));
  }, 60_000);
});
