import { Writable } from "node:stream";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { python } from "../../../src/backends/python/index.js";
import { tensor } from "../../../src/core/tensor-factory.js";
import { INTERPRETER } from "../../helpers/cli.js";
import { inferenceClient } from "../../helpers/grpc.js";
import { inferJson, startServer } from "../../helpers/server.js";

// Defect 1: a dead Python worker's stderr (secrets printed at import, other clients' tracebacks,
// internal paths) reached remote clients in the 500 body and the gRPC INTERNAL message.

const SECRET = "s3cr3t-token-4711";
const FIXTURE = "test/integration/hardening/fixtures/leaky.py";
let lines: string[] = [];
let server: Awaited<ReturnType<typeof startServer>>;

beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  server = await startServer(
    [
      {
        name: "leaky",
        inputs: { x: tensor("INT32", [1]) },
        outputs: { y: tensor("INT32", [1]) },
        fn: python(FIXTURE, "die_on_negative", { interpreter: INTERPRETER, env: { LEAKY_SECRET: SECRET } }),
      },
    ],
    { grpc: 0, logger: pino({ level: "info" }, sink) },
  );
}, 60_000);
afterAll(() => server?.close());

const request = (x: number) => ({ inputs: [{ name: "x", shape: [1], datatype: "INT32", data: [x] }] });

async function waitReady(): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const r = await inferJson(server.urls.http!, "leaky", request(1));
    if (r.status === 200) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the worker did not come back");
}

describe("defect 1: a dead worker's stderr stays in the server log", () => {
  it("answers HTTP with a short message and a reference, not the stderr tail", async () => {
    await waitReady();
    lines = [];
    const r = await inferJson(server.urls.http!, "leaky", request(-1));
    expect(r.status).toBe(500);
    const msg: string = r.body.error;
    expect(msg).not.toContain(SECRET);
    expect(msg).not.toContain("/srv/private");
    expect(msg).not.toMatch(/stderr/);
    expect(msg).toMatch(/python worker 0 of model 'leaky' died \(killed by SIGKILL\)/);
    const ref = /ref ([0-9a-f]{12})/.exec(msg)?.[1];
    expect(ref).toBeDefined();
    // The operator finds the detail in the log under the same reference.
    const log = lines.join("");
    expect(log).toContain(ref!);
    expect(log).toContain("/srv/private/path.py");
  }, 30_000);

  it("answers gRPC with the same short INTERNAL message", async () => {
    await waitReady();
    const client = inferenceClient(server.urls.grpc!);
    try {
      const err = await client
        .call("ModelInfer", {
          model_name: "leaky",
          inputs: [{ name: "x", datatype: "INT32", shape: [1], contents: { int_contents: [-1] } }],
        })
        .catch((e: { code: number; details: string }) => e);
      expect(err).toMatchObject({ code: 13 });
      const details = (err as { details: string }).details;
      expect(details).not.toContain(SECRET);
      expect(details).not.toContain("/srv/private");
      expect(details).toMatch(/died .*ref [0-9a-f]{12}/);
    } finally {
      client.close();
    }
  }, 30_000);
});
