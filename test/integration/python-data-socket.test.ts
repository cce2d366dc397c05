import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { LazyBackend } from "../../src/backends/lazy.js";
import { DataSocket } from "../../src/backends/python/data-socket.js";
import { python } from "../../src/backends/python/index.js";
import type { ServerMessage, WorkerMessage } from "../../src/backends/python/protocol.js";
import type { PythonBackend } from "../../src/backends/python/python-backend.js";
import type { ExecutionRequest } from "../../src/core/backend.js";
import { silentLogger } from "../../src/core/logger.js";
import { Tensor } from "../../src/core/tensor.js";
import { INTERPRETER } from "../helpers/cli.js";

const runtimeDir = mkdtempSync(join(tmpdir(), "tb-datasock-"));
afterAll(() => rmSync(runtimeDir, { recursive: true, force: true }));

// The worker's end (python/tensorbind/_proxy/data_socket.py) answering each frame with itself,
// until the server's end closes; then it says so and exits 0.
const ECHO_PEER = `
import sys
from tensorbind._proxy.data_socket import DataSocket, PeerClosed
s = DataSocket(sys.argv[1])
try:
    while True:
        s.send_json(s.recv_json())
except PeerClosed:
    print("peer closed", flush=True)
`;

function peer(path: string) {
  const child = spawn(INTERPRETER, ["-c", ECHO_PEER, path], {
    env: { ...process.env, PYTHONPATH: resolve("python") },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  return { child, output: () => out };
}

describe("the worker's data socket (length-prefixed JSON frames over a Unix socket)", () => {
  it("delivers frames split across reads and frames coalesced in one read, whole and in order", async () => {
    const socket = await DataSocket.listen(join(runtimeDir, "echo.data"));
    const { child } = peer(socket.path);
    await socket.connected;
    const got: WorkerMessage[] = [];
    const all = new Promise<void>((done) =>
      socket.receive((m) => {
        got.push(m);
        if (got.length === 300) done();
      }),
    );
    // Small frames written back to back (several per read) and large ones (several reads each).
    const sent = Array.from({ length: 300 }, (_, i) => ({
      type: "forget" as const,
      keys: [i % 50 === 0 ? "x".repeat(300_000 + i) : `k${i}`],
    }));
    for (const m of sent) void socket.send(m as ServerMessage);
    await all;
    expect(got).toEqual(sent);
    await socket.close();
    await once(child, "exit");
  }, 30_000);

  it("ends the worker's loop when the server's end closes, and tells the server when the worker dies", async () => {
    const a = await DataSocket.listen(join(runtimeDir, "a.data"));
    const first = peer(a.path);
    await a.connected;
    await a.close();
    const [code] = await once(first.child, "exit");
    expect(code).toBe(0);
    expect(first.output()).toContain("peer closed");

    const b = await DataSocket.listen(join(runtimeDir, "b.data"));
    const second = peer(b.path);
    await b.connected;
    const closed = new Promise<void>((done) => b.onClose(done));
    second.child.kill("SIGKILL");
    await closed;
    await expect(b.send({ type: "forget", keys: [] })).rejects.toThrow(/closed/);
    await b.close();
    expect(readdirSync(runtimeDir).filter((n) => n.endsWith(".data"))).toEqual([]);
  }, 30_000);
});

function request(x: number): ExecutionRequest {
  const t = Tensor.fromArray("INT32", [1], [x], "x");
  return { id: undefined, inputs: { x: t }, parameters: {}, requestedOutputs: [], signal: undefined };
}

async function startEcho(dir: string): Promise<PythonBackend> {
  const backend = python("python/tests/fixtures/models.py", "crash_on_negative", {
    interpreter: INTERPRETER,
  }).create();
  await backend.start({ model: "m", version: "1", log: silentLogger, runtimeDir: dir });
  return (backend as LazyBackend).loaded as PythonBackend;
}

describe("request messages take the data socket; ZeroMQ keeps the start-up", () => {
  it("gives each worker a data socket beside its ZeroMQ endpoint, closed to others once connected", async () => {
    const dir = mkdtempSync(join(runtimeDir, "hop-"));
    const backend = await startEcho(dir);
    try {
      const [pid] = backend.pids;
      const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      const data = argv[argv.indexOf("--data-socket") + 1];
      expect(data).toMatch(/\.data$/);
      // Once the worker connected, the listener is closed and its name gone: nobody else can connect.
      expect(readdirSync(dir)).toEqual([argv[argv.indexOf("--endpoint") + 1]!.split("/").at(-1)!]);
      const [out] = await backend.execute([request(7)], 0);
      expect((out as Record<string, Tensor>).y?.toArray()).toEqual([7]);
    } finally {
      await backend.stop();
    }
    expect(readdirSync(dir)).toEqual([]);
  }, 60_000);

  it("still serves everything over ZeroMQ with TENSORBIND_WORKER_HOP=zeromq", async () => {
    const dir = mkdtempSync(join(runtimeDir, "zmq-"));
    process.env.TENSORBIND_WORKER_HOP = "zeromq";
    let backend: PythonBackend;
    try {
      backend = await startEcho(dir);
    } finally {
      delete process.env.TENSORBIND_WORKER_HOP;
    }
    try {
      const [pid] = backend.pids;
      expect(readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")).not.toContain("--data-socket");
      const [out] = await backend.execute([request(4)], 0);
      expect((out as Record<string, Tensor>).y?.toArray()).toEqual([4]);
      const [dead] = await backend.execute([request(-1)], 0); // a dead peer is still detected
      expect((dead as Error).message).toMatch(/died \(killed by SIGKILL\)/);
    } finally {
      await backend.stop();
    }
  }, 60_000);
});
