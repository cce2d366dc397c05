import { randomBytes } from "node:crypto";
import { readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { Metadata } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tensor } from "../../src/core/tensor-factory.js";
import { clientRegionAddon } from "../../src/shm/addon.js";
import { type InferenceClient, inferenceClient } from "../helpers/grpc.js";
import { startServer } from "../helpers/server.js";

// POSIX shared-memory objects are files under /dev/shm on Linux: the test plays the client.
const keys: string[] = [];
function segment(bytes: Buffer): string {
  const key = `tbtest-${process.pid}-${randomBytes(6).toString("hex")}`;
  writeFileSync(`/dev/shm/${key}`, bytes);
  keys.push(key);
  return `/${key}`;
}
const f32 = (values: number[]) => Buffer.from(new Float32Array(values).buffer);

let base: string;
let grpc: InferenceClient;
let close: () => Promise<void>;
const KEY = "admin-key";

beforeAll(async () => {
  const server = await startServer(
    [
      {
        name: "identity",
        inputs: { X: tensor("FP32", [-1]) },
        outputs: { Y: tensor("FP32", [-1]) },
        fn: ({ X }) => ({ Y: X! }),
      },
      {
        name: "slow_identity",
        inputs: { X: tensor("FP32", [-1]) },
        outputs: { Y: tensor("FP32", [-1]) },
        fn: async ({ X }) => {
          await new Promise((resolve) => setTimeout(resolve, 300));
          return { Y: X! };
        },
      },
      {
        name: "add",
        inputs: { A: tensor("FP32", [-1]), B: tensor("FP32", [-1]) },
        outputs: { S: tensor("FP32", [-1]) },
        fn: ({ A, B }) => {
          const a = A!.data as Float32Array;
          const b = B!.data as Float32Array;
          return { S: a.map((x, i) => x + b[i]!) };
        },
      },
    ],
    { grpc: 0, shmExtension: "system" },
  );
  base = server.urls.http!;
  grpc = inferenceClient(server.urls.grpc!);
  close = () => server.close();
});
afterAll(async () => {
  grpc.close();
  await close();
  for (const k of keys) rmSync(`/dev/shm/${k}`, { force: true });
});

const post = async (path: string, body?: unknown, headers: Record<string, string> = {}) => {
  const res = await fetch(`${base}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as any };
};
const register = (name: string, key: string, byte_size: number, offset = 0) =>
  post(`/v2/systemsharedmemory/region/${name}/register`, { key, offset, byte_size });
const shmInput = (name: string, shape: number[], region: string, byteSize: number, offset?: number) => ({
  name,
  shape,
  datatype: "FP32",
  parameters: {
    shared_memory_region: region,
    shared_memory_byte_size: byteSize,
    ...(offset !== undefined ? { shared_memory_offset: offset } : {}),
  },
});

describe("system shared memory over HTTP", () => {
  it("lists the extension, registers, answers status without keys, unregisters", async () => {
    const meta = (await (await fetch(`${base}/v2`)).json()) as { extensions: string[] };
    expect(meta.extensions).toContain("system_shared_memory");
    expect(meta.extensions).not.toContain("cuda_shared_memory");
    const key = segment(Buffer.alloc(128));
    expect((await register("r1", key, 64, 32)).status).toBe(200);
    const status = await fetch(`${base}/v2/systemsharedmemory/region/r1/status`);
    expect(await status.json()).toEqual([{ name: "r1", key: "", offset: 32, byte_size: 64 }]);
    expect((await register("r1", key, 64)).body.error).toMatch(/already in manager/);
    expect((await post("/v2/systemsharedmemory/region/r1/unregister")).status).toBe(200);
    const after = await fetch(`${base}/v2/systemsharedmemory/status`);
    expect(await after.json()).toEqual([]);
  });

  it("reads inputs from a region and writes outputs into one, mixed with body inputs", async () => {
    const inKey = segment(f32([1, 2, 3, 4, 5, 6, 7, 8]));
    const outKey = segment(Buffer.alloc(64));
    await register("in", inKey, 32);
    await register("out", outKey, 64);
    const res = await post("/v2/models/add/infer", {
      inputs: [
        shmInput("A", [4], "in", 16, 16),
        { name: "B", shape: [4], datatype: "FP32", data: [10, 20, 30, 40] },
      ],
      outputs: [
        {
          name: "S",
          parameters: { shared_memory_region: "out", shared_memory_byte_size: 32, shared_memory_offset: 8 },
        },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.outputs[0]).toEqual({ name: "S", datatype: "FP32", shape: [4] });
    const out = floats(readSegment(outKey), 8, 24);
    expect([...out]).toEqual([15, 26, 37, 48]);
    await post("/v2/systemsharedmemory/unregister");
  });

  it("answers 400 for bad offsets, sizes, keys and unknown regions, and keeps serving", async () => {
    const key = segment(Buffer.alloc(64));
    const bad = [
      await register("k1", "/../etc/passwd", 8),
      await register("k2", "/dev/shm/x", 8),
      await register("k3", "..", 8),
      await register("k4", "/tb-0123", 8),
      await register("k5", "/tbtest-does-not-exist", 8),
      await register("k6", key, 65),
      await register("k7", key, 8, 60),
      await register("k8", key, -1),
      await register("k9", key, 0),
      await register("k10", key, 2 ** 53, 2 ** 53),
    ];
    for (const r of bad) {
      expect(r.status).toBe(400);
      expect(typeof r.body.error).toBe("string");
    }
    await register("ok", key, 64);
    const infer = (input: unknown) => post("/v2/models/identity/infer", { inputs: [input] });
    const errors = [
      await infer(shmInput("X", [4], "nope", 16)),
      await infer(shmInput("X", [16], "ok", 64, 4)),
      await infer(shmInput("X", [4], "ok", 16, 2 ** 53 - 1)),
      await infer(shmInput("X", [4], "ok", -16)),
      await infer(shmInput("X", [8], "ok", 16)),
      await infer({ ...shmInput("X", [4], "ok", 16), data: [1, 2, 3, 4] }),
      await infer({ name: "X", shape: [4], datatype: "FP32", parameters: { shared_memory_region: "ok" } }),
    ];
    for (const r of errors) expect(r.status, JSON.stringify(r.body)).toBe(400);
    expect((await infer(shmInput("X", [4], "ok", 16))).status).toBe(200);
    await post("/v2/systemsharedmemory/unregister");
  });

  it("survives random offsets and sizes (fuzz)", async () => {
    const key = segment(Buffer.alloc(256));
    await register("fz", key, 128, 64);
    const values = [0, 1, 3, 4, 63, 64, 124, 127, 128, 129, 2 ** 31, 2 ** 32 + 4, 2 ** 53 - 1, -4, 1.5];
    let seed = 7;
    const pick = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return values[seed % values.length]!;
    };
    for (let i = 0; i < 60; i++) {
      const offset = pick();
      const size = pick();
      const fits = Number.isSafeInteger(offset) && Number.isSafeInteger(size) && offset >= 0 && size >= 0;
      const ok = fits && size % 4 === 0 && offset + size <= 128;
      const res = await post("/v2/models/identity/infer", {
        inputs: [shmInput("X", [Math.max(0, Math.floor(size / 4))], "fz", size, offset)],
      });
      expect(res.status, `offset ${offset} size ${size}: ${JSON.stringify(res.body)}`).toBe(ok ? 200 : 400);
    }
    await post("/v2/systemsharedmemory/unregister");
  });

  it("refuses a segment that shrank after registration instead of faulting", async () => {
    const key = segment(Buffer.alloc(4096));
    await register("shrink", key, 4096);
    truncateSync(`/dev/shm${key}`, 16);
    const res = await post("/v2/models/identity/infer", { inputs: [shmInput("X", [4], "shrink", 16)] });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(/shrank/);
    await post("/v2/systemsharedmemory/unregister");
  });

  it("finishes a request whose region is unregistered meanwhile, then unmaps and refuses the name", async () => {
    const key = segment(f32([5, 6, 7, 8]));
    await register("inflight", key, 16);
    const before = clientRegionAddon().liveMappings();
    const running = post("/v2/models/slow_identity/infer", {
      inputs: [shmInput("X", [4], "inflight", 16)],
      outputs: [{ name: "Y", parameters: { binary_data: false } }],
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await post("/v2/systemsharedmemory/region/inflight/unregister")).status).toBe(200);
    expect(clientRegionAddon().liveMappings()).toBe(before); // still mapped: the request holds it
    const res = await running;
    expect(res.status).toBe(200);
    expect(res.body.outputs[0].data).toEqual([5, 6, 7, 8]);
    expect(clientRegionAddon().liveMappings()).toBe(before - 1);
    const again = await post("/v2/models/identity/infer", { inputs: [shmInput("X", [4], "inflight", 16)] });
    expect(again.status).toBe(400);
  });

  it("keeps serving a region whose client is gone (segment unlinked) until it is unregistered", async () => {
    const key = segment(f32([1, 2, 3, 4]));
    await register("orphan", key, 16);
    rmSync(`/dev/shm${key}`); // the client exited and removed its segment: the mapping stays valid
    const res = await post("/v2/models/identity/infer", {
      inputs: [shmInput("X", [4], "orphan", 16)],
      outputs: [{ name: "Y", parameters: { binary_data: false } }],
    });
    expect(res.body.outputs[0].data).toEqual([1, 2, 3, 4]);
    await post("/v2/systemsharedmemory/region/orphan/unregister");
    expect((await register("orphan", key, 16)).body.error).toMatch(/no such segment/);
  });

  it("unmaps on unregister", async () => {
    const before = clientRegionAddon().liveMappings();
    await register("u1", segment(Buffer.alloc(64)), 64);
    await register("u2", segment(Buffer.alloc(64)), 64);
    expect(clientRegionAddon().liveMappings()).toBe(before + 2);
    await post("/v2/systemsharedmemory/unregister");
    expect(clientRegionAddon().liveMappings()).toBe(before);
    // A region unregistered is unknown to the next request.
    const res = await post("/v2/models/identity/infer", { inputs: [shmInput("X", [4], "u1", 16)] });
    expect(res.body.error).toMatch(/Unable to find shared memory region: 'u1'/);
  });
});

describe("system shared memory over gRPC", () => {
  it("registers, infers with region inputs and outputs, reports status, unregisters", async () => {
    const inKey = segment(f32([1, 2, 3, 4]));
    const outKey = segment(Buffer.alloc(16));
    await grpc.call("SystemSharedMemoryRegister", { name: "gin", key: inKey, offset: 0, byte_size: 16 });
    await grpc.call("SystemSharedMemoryRegister", { name: "gout", key: outKey, offset: 0, byte_size: 16 });
    const status = await grpc.call("SystemSharedMemoryStatus", { name: "" });
    expect(Object.keys(status.regions).sort()).toEqual(["gin", "gout"]);
    expect(status.regions.gin).toMatchObject({ name: "gin", key: "", byte_size: "16" });
    const p = (region: string, size: number) => ({
      shared_memory_region: { string_param: region },
      shared_memory_byte_size: { int64_param: size },
    });
    const res = await grpc.call("ModelInfer", {
      model_name: "add",
      inputs: [
        { name: "A", datatype: "FP32", shape: [4], parameters: p("gin", 16) },
        { name: "B", datatype: "FP32", shape: [4] },
      ],
      raw_input_contents: [f32([1, 1, 1, 1])],
      outputs: [{ name: "S", parameters: p("gout", 16) }],
    });
    expect(res.outputs[0].parameters.shared_memory_region.string_param).toBe("gout");
    expect(res.raw_output_contents[0].length).toBe(0);
    expect([...floats(readSegment(outKey), 0, 16)]).toEqual([2, 3, 4, 5]);

    const err = await grpc
      .call("ModelInfer", {
        model_name: "identity",
        inputs: [{ name: "X", datatype: "FP32", shape: [8], parameters: p("gin", 32) }],
      })
      .catch((e: { code: number }) => e);
    expect(err).toMatchObject({ code: 3 });
    const bad = await grpc
      .call("SystemSharedMemoryRegister", { name: "x", key: "a/b", offset: 0, byte_size: 4 })
      .catch((e: { code: number }) => e);
    expect(bad).toMatchObject({ code: 3 });
    await grpc.call("SystemSharedMemoryUnregister", { name: "" });
    expect((await grpc.call("SystemSharedMemoryStatus", { name: "" })).regions).toEqual({});
  });
});

describe("shared memory switched off, restricted, and shown keys", () => {
  it("answers UNIMPLEMENTED / 501 with --shm-extension off", async () => {
    const server = await startServer([], { grpc: 0, shmExtension: "off" });
    try {
      const meta = (await (await fetch(`${server.urls.http}/v2`)).json()) as { extensions: string[] };
      expect(meta.extensions).not.toContain("system_shared_memory");
      const res = await fetch(`${server.urls.http}/v2/systemsharedmemory/status`);
      expect(res.status).toBe(501);
      const g = inferenceClient(server.urls.grpc!);
      const err = await g.call("SystemSharedMemoryStatus", { name: "" }).catch((e: { code: number }) => e);
      g.close();
      expect(err).toMatchObject({ code: 12 });
    } finally {
      await server.close();
    }
  });

  it("lists cuda_shared_memory only where CUDA works: here its endpoints answer 501 and say why", async () => {
    const server = await startServer([], { grpc: 0, shmExtension: "all" });
    try {
      const meta = (await (await fetch(`${server.urls.http}/v2`)).json()) as { extensions: string[] };
      expect(meta.extensions).toContain("system_shared_memory");
      expect(meta.extensions).not.toContain("cuda_shared_memory");
      const res = await fetch(`${server.urls.http}/v2/cudasharedmemory/status`);
      expect(res.status).toBe(501);
      expect(((await res.json()) as { error: string }).error).toMatch(/CUDA shared memory is not available/);
      const g = inferenceClient(server.urls.grpc!);
      const err = await g
        .call("CudaSharedMemoryRegister", {
          name: "c",
          raw_handle: Buffer.alloc(64),
          device_id: 0,
          byte_size: 8,
        })
        .catch((e: { code: number }) => e);
      g.close();
      expect(err).toMatchObject({ code: 12 });
    } finally {
      await server.close();
    }
  });

  it("needs the header key when the shared-memory API is restricted; shows keys when allowed", async () => {
    const server = await startServer([], {
      grpc: 0,
      shmExtension: "system",
      shmStatusKeys: true,
      restrictedApi: `shared-memory:${KEY}=s3cret`,
    });
    const url = server.urls.http!;
    try {
      const key = segment(Buffer.alloc(8));
      const body = JSON.stringify({ key, offset: 0, byte_size: 8 });
      const denied = await fetch(`${url}/v2/systemsharedmemory/region/r/register`, { method: "POST", body });
      expect(denied.status).toBe(403);
      const ok = await fetch(`${url}/v2/systemsharedmemory/region/r/register`, {
        method: "POST",
        body,
        headers: { [KEY]: "s3cret" },
      });
      expect(ok.status).toBe(200);
      const status = await fetch(`${url}/v2/systemsharedmemory/status`, { headers: { [KEY]: "s3cret" } });
      expect(await status.json()).toEqual([{ name: "r", key, offset: 0, byte_size: 8 }]);
      const g = inferenceClient(server.urls.grpc!);
      const err = await g.call("SystemSharedMemoryStatus", { name: "" }).catch((e: { code: number }) => e);
      expect(err).toMatchObject({ code: 7 });
      const md = new Metadata();
      md.set(KEY, "s3cret");
      expect(
        Object.keys((await g.call("SystemSharedMemoryStatus", { name: "" }, { metadata: md })).regions),
      ).toEqual(["r"]);
      g.close();
    } finally {
      const before = clientRegionAddon().liveMappings();
      await server.close();
      expect(clientRegionAddon().liveMappings()).toBe(before - 1);
    }
  });
});

function floats(b: Buffer, start: number, end: number): Float32Array {
  return new Float32Array(Uint8Array.from(b.subarray(start, end)).buffer);
}

function readSegment(key: string): Buffer {
  return readFileSync(`/dev/shm${key}`);
}
