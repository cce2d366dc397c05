import { readdirSync, readFileSync, statSync } from "node:fs";
import type { ClientDuplexStream } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { LazyBackend } from "../../src/backends/lazy.js";
import { OutputSegments, SharedArena } from "../../src/backends/python/arena.js";
import { python } from "../../src/backends/python/index.js";
import type { PythonBackend } from "../../src/backends/python/python-backend.js";
import { tensorSpec } from "../../src/core/spec.js";
import { INTERPRETER } from "../helpers/cli.js";
import { inferenceClient } from "../helpers/grpc.js";
import { binaryBody, parseBinaryResponse, startServer } from "../helpers/server.js";

// The copy budget of the Python data plane, end to end over HTTP: a binary request body is read
// from the socket into a slot of the model's shared-memory arena and the worker reads it there;
// output slots go back as soon as the response is written; after a burst the arenas shrink.

const FIXTURES = "python/tests/fixtures/models.py";
let server: Awaited<ReturnType<typeof startServer>>;
let base: string;

beforeAll(async () => {
  const model = (name: string, fn: string) => ({
    name,
    fn: python(FIXTURES, fn, { interpreter: INTERPRETER }),
    inputs: { x: tensorSpec("FP32", [-1]) },
    outputs: {
      path: tensorSpec("BYTES", [1]),
      offset: tensorSpec("INT64", [1]),
      y: tensorSpec("FP32", [-1]),
    },
  });
  server = await startServer(
    [
      model("where", "where_is_input"),
      {
        name: "echo",
        fn: python(FIXTURES, "echo", { interpreter: INTERPRETER }),
        inputs: { x: tensorSpec("FP32", [-1]) },
        outputs: { OUT_x: tensorSpec("FP32", [-1]) },
      },
    ],
    { grpc: 0 },
  );
  base = server.urls.http!;
}, 60_000);
afterAll(async () => {
  await server?.close();
});

interface StreamReply {
  infer_response: {
    raw_output_contents: Uint8Array[];
    parameters: Record<string, { bool_param?: boolean }>;
  };
}

function backendOf(name: string): PythonBackend {
  return (server.registry.get(name).backend as LazyBackend).loaded as PythonBackend;
}

async function inferBinary(model: string, x: Float32Array, outputs?: string[]) {
  const header = {
    inputs: [
      { name: "x", datatype: "FP32", shape: [x.length], parameters: { binary_data_size: x.byteLength } },
    ],
    ...(outputs && { outputs: outputs.map((name) => ({ name, parameters: { binary_data: true } })) }),
  };
  const { body, headerLength } = binaryBody(header, [new Uint8Array(x.buffer, x.byteOffset, x.byteLength)]);
  const res = await fetch(`${base}/v2/models/${model}/infer`, {
    method: "POST",
    headers: {
      "Content-Type": "application/octet-stream",
      "Inference-Header-Content-Length": `${headerLength}`,
    },
    body,
  });
  const buf = Buffer.from(await res.arrayBuffer());
  const length = Number(res.headers.get("inference-header-content-length") ?? buf.length);
  return {
    status: res.status,
    headerLength,
    connection: res.headers.get("connection"),
    ...(res.status === 200 ? parseBinaryResponse(buf, length) : {}),
  };
}

/** Shared memory this process has touched, from the kernel (kB → bytes). */
function rssShmem(pid: number | "self" = "self"): number {
  const m = /RssShmem:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? 0) * 1024;
}

/** Bytes of /dev/shm held by names this server created (its arenas keep their names while it lives). */
function devShmBytes(): number {
  const prefix = `tb-${process.pid}-`;
  let n = 0;
  for (const name of readdirSync("/dev/shm")) {
    if (name.startsWith(prefix)) n += statSync(`/dev/shm/${name}`).blocks * 512;
  }
  return n;
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}

describe("python data plane: copy budget over HTTP", () => {
  // 0.4 MB: node:http's parser hands the body over chunk by chunk; 4 MB: the body is read past
  // the parser, by a socket of its own, straight into the slot (its connection then closes).
  it.each([
    [100_003, "keep-alive"],
    [1_000_003, "close"],
  ])(
    "reads a binary body of %i floats into an arena slot that the worker reads in place, 64-byte aligned",
    async (n, connection) => {
      const arena = backendOf("where").arena!;
      const alloc = vi.spyOn(SharedArena.prototype, "alloc");
      try {
        const x = Float32Array.from({ length: n }, (_, i) => i * 0.5);
        const out = await inferBinary("where", x, ["path", "offset", "y"]);
        expect(out.status).toBe(200);
        expect(out.connection).toBe(connection);
        // Exactly one slot: the body itself, Content-Length bytes; no slot for a copy of the input.
        expect(alloc).toHaveBeenCalledTimes(1);
        const slot = alloc.mock.results[0]!.value as { segment: number; bytes: Uint8Array };
        const dataOffset = slot.bytes.byteOffset + out.headerLength;
        expect(dataOffset % 64).toBe(0);
        const segment = arena.segments().find((s) => s.id === slot.segment)!;
        const path = out.outputs!.path!;
        // BYTES wire form: u32 length + the path the worker's mapping of x comes from
        expect(path.subarray(4).toString()).toBe(`/dev/shm${segment.name}`);
        expect(Number(out.outputs!.offset!.readBigInt64LE(0))).toBe(dataOffset);
        expect(Buffer.compare(out.outputs!.y!, Buffer.from(x.buffer))).toBe(0);
      } finally {
        alloc.mockRestore();
      }
    },
    30_000,
  );

  it("reads a large JSON body's data into an arena slot that the worker reads in place", async () => {
    const arena = backendOf("where").arena!;
    const alloc = vi.spyOn(SharedArena.prototype, "alloc");
    try {
      const x = Float32Array.from({ length: 100_003 }, (_, i) => i * 0.5 - 7.25);
      const res = await fetch(`${base}/v2/models/where/infer`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          inputs: [{ name: "x", datatype: "FP32", shape: [x.length], data: Array.from(x) }],
          outputs: [{ name: "path" }, { name: "offset" }, { name: "y" }],
        }),
      });
      const body = (await res.json()) as { outputs: { name: string; data: unknown[] }[] };
      expect(res.status, JSON.stringify(body).slice(0, 300)).toBe(200);
      const out = Object.fromEntries(body.outputs.map((o) => [o.name, o.data]));
      // One slot, for the numbers the addon read from the body: no slot for a copy of them.
      // (A copy of heap numbers would be placed by the instance: alloc(400_012), no alignment.)
      expect(alloc.mock.calls).toEqual([[Math.ceil(x.byteLength / 64) * 64, 0]]);
      const slot = alloc.mock.results[0]!.value as { segment: number; bytes: Uint8Array };
      const segment = arena.segments().find((s) => s.id === slot.segment)!;
      expect(out.path).toEqual([`/dev/shm${segment.name}`]);
      expect(out.offset).toEqual([slot.bytes.byteOffset]);
      expect(slot.bytes.byteOffset % 64).toBe(0);
      expect(Float32Array.from(out.y as number[])).toEqual(x);
    } finally {
      alloc.mockRestore();
    }
  }, 30_000);

  it("gives output slots back when the response is written and shrinks the arenas after a burst", async () => {
    const backend = backendOf("echo");
    const worker = backend.pids[0]!;
    const serverBase = rssShmem();
    const x = new Float32Array(4 << 20).fill(1.5); // 16 MiB
    for (let i = 0; i < 6; i++) {
      x[i] = i;
      const out = await inferBinary("echo", x, ["OUT_x"]);
      expect(out.status).toBe(200);
      expect(new Float32Array(new Uint8Array(out.outputs!.OUT_x!).buffer)[i]).toBe(i);
    }
    // While busy the arenas held at least one request in and one response out.
    expect(backend.stats().sharedMemoryBytes).toBeGreaterThanOrEqual(2 * x.byteLength);
    // Idle again: explicit releases (no garbage collection involved) let both arenas drop their
    // burst segments: the model's input arena keeps its 1 MiB idle segment at most.
    const idle = 1 << 20;
    const shrunk = await until(
      () => backend.stats().sharedMemoryBytes <= idle && devShmBytes() <= idle * 2,
      5_000,
    );
    expect(shrunk, `arena bytes ${backend.stats().sharedMemoryBytes}, /dev/shm ${devShmBytes()}`).toBe(true);
    expect(rssShmem(worker)).toBeLessThan(8 << 20);
    expect(rssShmem() - serverBase).toBeLessThan(8 << 20);
  }, 60_000);

  it("gives a gRPC reply's output slot back once grpc-js has serialized it (the next call reuses it)", async () => {
    const client = inferenceClient(server.urls.grpc!);
    const view = vi.spyOn(OutputSegments.prototype, "view");
    try {
      for (let i = 0; i < 2; i++) {
        const x = new Float32Array(1 << 18).fill(i + 0.5); // 1 MiB
        const res = await client.call("ModelInfer", {
          model_name: "echo",
          inputs: [{ name: "x", datatype: "FP32", shape: [x.length] }],
          raw_input_contents: [Buffer.from(x.buffer)],
        });
        expect(new Float32Array(new Uint8Array(res.raw_output_contents[0]).buffer)[7]).toBe(i + 0.5);
        await new Promise((r) => setTimeout(r, 20)); // the release rides on the next message
      }
      const [first, second] = view.mock.calls;
      expect(second?.slice(0, 2)).toEqual(first?.slice(0, 2)); // same segment and offset
    } finally {
      view.mockRestore();
      client.close();
    }
  }, 30_000);

  it("gives a ModelStreamInfer response's output slot back once written, not at garbage collection", async () => {
    const client = inferenceClient(server.urls.grpc!);
    const call = (client.raw.ModelStreamInfer as () => ClientDuplexStream<unknown, StreamReply>).call(
      client.raw,
    );
    const view = vi.spyOn(OutputSegments.prototype, "view");
    const replies: StreamReply[] = [];
    let next: (() => void) | undefined;
    call.on("data", (r: StreamReply) => {
      replies.push(r); // kept: before the fix the slot stayed taken while its views were reachable
      next?.();
    });
    try {
      for (let i = 0; i < 3; i++) {
        const x = new Float32Array(1 << 18).fill(i + 0.5); // 1 MiB
        const answered = new Promise<void>((resolve) => {
          next = resolve;
        });
        call.write({
          model_name: "echo",
          id: `r${i}`,
          inputs: [{ name: "x", datatype: "FP32", shape: [x.length] }],
          raw_input_contents: [Buffer.from(x.buffer)],
        });
        await answered;
        const out = replies[i]!.infer_response.raw_output_contents[0]!;
        expect(new Float32Array(new Uint8Array(out).buffer)[7]).toBe(i + 0.5);
        await new Promise((r) => setTimeout(r, 20)); // the release rides on the next message
      }
      const slots = view.mock.calls.map((c) => c.slice(0, 2));
      expect(slots).toHaveLength(3);
      expect(slots[1]).toEqual(slots[0]); // the same segment and offset every time
      expect(slots[2]).toEqual(slots[0]);
      // Triton marks every stream response of a plain model final.
      for (const r of replies)
        expect(r.infer_response.parameters.triton_final_response?.bool_param).toBe(true);
    } finally {
      view.mockRestore();
      call.end();
      client.close();
    }
  }, 30_000);
});
