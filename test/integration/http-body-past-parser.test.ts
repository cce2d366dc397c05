import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { supportsReusePort } from "../../src/config.js";
import { DIRECT_READ_MIN_BYTES, directReadsInFlight } from "../../src/frontends/http/socket-body.js";
import { python, tensor } from "../../src/index.js";
import type { BindOptions } from "../../src/model/model.js";
import { INTERPRETER, spawnServer } from "../helpers/cli.js";
import { binaryBody, bytePattern, inferBytes, startServer } from "../helpers/server.js";

// Large binary bodies are read past node:http's parser, through a socket of their own, straight
// into the model's memory (src/frontends/http/socket-body.ts); their connection then closes.

const identity: BindOptions = {
  name: "identity",
  inputs: { X: tensor("UINT8", [-1]) },
  outputs: { Y: tensor("UINT8", [-1]) },
  fn: ({ X }) => ({ Y: X! }),
};

// As identity, after longer than the test server's request timeout (1.5 s).
const slow: BindOptions = {
  ...identity,
  name: "slow",
  fn: async ({ X }) => {
    await new Promise((r) => setTimeout(r, 2500));
    return { Y: X! };
  },
};

function request(n: number, seed = 1) {
  const x = bytePattern(n, seed);
  const header = {
    inputs: [{ name: "X", datatype: "UINT8", shape: [n], parameters: { binary_data_size: n } }],
    outputs: [{ name: "Y", parameters: { binary_data: true } }],
  };
  return binaryBody(header, [x]);
}

async function infer(url: string, n: number, seed = 1, model = "identity") {
  const x = bytePattern(n, seed);
  const { status, output, connection } = await inferBytes(url, model, x, {
    input: "X",
    output: "Y",
    shape: [n],
  });
  expect(status).toBe(200);
  expect(output!.equals(Buffer.from(x))).toBe(true);
  return connection;
}

/** Sends the request's headers and the first `sent` bytes of its body, then leaves the socket to the test. */
function partial(
  url: string,
  n: number,
  sent: number,
  model = "identity",
): { socket: Socket; response: Promise<string>; rest: Buffer } {
  const { body, headerLength } = request(n);
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  socket.write(
    `POST /v2/models/${model}/infer HTTP/1.1\r\nHost: ${hostname}:${port}\r\nContent-Length: ${body.length}\r\n` +
      `Inference-Header-Content-Length: ${headerLength}\r\n\r\n`,
  );
  socket.write(body.subarray(0, headerLength + sent));
  const chunks: Buffer[] = [];
  socket.on("data", (c) => chunks.push(c));
  socket.on("error", () => {});
  const response = new Promise<string>((resolve) =>
    socket.on("close", () => resolve(Buffer.concat(chunks).toString("latin1"))),
  );
  return { socket, response, rest: body.subarray(headerLength + sent) };
}

async function until(check: () => boolean, what: string) {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 25));
  expect(check(), what).toBe(true);
}

describe("HTTP: large binary bodies read past node:http's parser", () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  let url: string;
  beforeAll(async () => {
    server = await startServer([identity, slow], { requestTimeoutMs: 1500 });
    url = server.urls.http!;
  }, 30_000);
  afterAll(async () => {
    await server?.close();
  });

  it("answers a large body correctly and closes its connection; small bodies keep theirs", async () => {
    expect(await infer(url, 4 * DIRECT_READ_MIN_BYTES + 3)).toBe("close");
    expect(await infer(url, 64 << 10)).toBe("keep-alive");
    // back to back, each on a new connection, every byte where it belongs
    for (let i = 0; i < 5; i++) await infer(url, (3 << 20) + i, i);
    expect(directReadsInFlight()).toBe(0);
  });

  it("the request timeout covers receiving the body, not the model's time after it", async () => {
    expect(await infer(url, 2 << 20, 3, "slow")).toBe("close");
  });

  it("a body cut short by the client's FIN is a 400 that says so; the server keeps serving", async () => {
    const { socket, response } = partial(url, 4 << 20, 1 << 20);
    await new Promise((r) => setTimeout(r, 50));
    socket.end();
    const text = await response;
    expect(text).toMatch(/^HTTP\/1\.1 400/);
    expect(text).toContain("closed the connection before sending the whole body");
    expect(directReadsInFlight()).toBe(0);
    await infer(url, 2 << 20);
  });

  it("a client gone mid-body leaves no read behind", async () => {
    const { socket } = partial(url, 8 << 20, 2 << 20);
    await until(() => directReadsInFlight() === 1, "the reader took the body");
    socket.destroy();
    await until(() => directReadsInFlight() === 0, "the read was cancelled");
    await infer(url, 2 << 20);
  });

  it("a stalled body gets 408 at the request timeout and its connection closes", async () => {
    const started = Date.now();
    const { response } = partial(url, 4 << 20, 1 << 20);
    const text = await response;
    expect(text).toMatch(/^HTTP\/1\.1 408/);
    expect(Date.now() - started).toBeLessThan(10_000);
    await until(() => directReadsInFlight() === 0, "the read was cancelled");
    await infer(url, 2 << 20);
  });
});

describe("HTTP: a forced stop reaches connections whose body was read past the parser", () => {
  it("drops the request at the end of the shutdown grace period", async () => {
    const server = await startServer([slow], { shutdownGraceMs: 300 });
    const pending = infer(server.urls.http!, 2 << 20, 1, "slow").then(
      () => "answered",
      () => "dropped",
    );
    await new Promise((r) => setTimeout(r, 500)); // the body is in; the model runs for 2.5 s
    const stopping = Date.now();
    const closed = server.close();
    expect(await pending).toBe("dropped");
    expect(Date.now() - stopping).toBeLessThan(1800);
    await closed;
  });
});

// What the arena must do meanwhile (keep the segment mapped) is test/unit/arena-close.test.ts.
describe("HTTP: a Python model unloaded while a large body arrives in its shared memory", () => {
  it("answers that request with an error and keeps serving", async () => {
    const server = await startServer([
      {
        name: "pyecho",
        fn: python("python/tests/fixtures/models.py", "echo", { interpreter: INTERPRETER }),
        inputs: { X: tensor("UINT8", [-1]) },
        outputs: { OUT_X: tensor("UINT8", [-1]) },
      },
    ]);
    try {
      const url = server.urls.http!;
      const { socket, response, rest } = partial(url, 8 << 20, 2 << 20, "pyecho");
      await until(() => directReadsInFlight() === 1, "the reader took the body");
      await server.registry.unbind("pyecho"); // closes the model's arena
      socket.write(rest); // the reader writes the rest into the slot the arena lent
      expect(await response).toMatch(/^HTTP\/1\.1 [45]\d\d/);
      expect((await fetch(`${url}/v2/health/live`)).status).toBe(200);
    } finally {
      await server.close();
    }
  }, 60_000);
});

describe("TENSORBIND_DIRECT_BODY=0", () => {
  it("keeps large bodies on node:http's path: the connection stays open", async () => {
    const env = { ...process.env, TENSORBIND_DIRECT_BODY: "0" };
    const args = [
      "examples/quickstart/models.ts",
      "--http-port",
      "0",
      "--grpc-port",
      "0",
      "--allow-metrics",
      "false",
    ];
    const server = await spawnServer(args, { env });
    try {
      const x = bytePattern(3 << 20);
      const io = { input: "INPUT0", output: "OUTPUT0", shape: [1, x.length] };
      const r = await inferBytes(server.info.http, "identity_uint8", x, io);
      expect(r.status).toBe(200);
      expect(r.output!.equals(Buffer.from(x))).toBe(true);
      expect(r.connection).toBe("keep-alive");
    } finally {
      await server.stop();
    }
  }, 60_000);
});

describe.runIf(supportsReusePort())("HTTP frontend threads read large bodies past the parser too", () => {
  it("answers from two threads, each with its own reader, and stops cleanly", async () => {
    const server = await startServer([identity], { workers: 2 });
    try {
      const sizes = Array.from({ length: 8 }, (_, i) => (2 << 20) + i * 4099);
      const conns = await Promise.all(sizes.map((n, i) => infer(server.urls.http!, n, i)));
      expect(conns.every((c) => c === "close")).toBe(true);
    } finally {
      await server.close();
    }
  });
});
