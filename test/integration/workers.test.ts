import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { python } from "../../src/backends/python/index.js";
import { supportsReusePort, workers } from "../../src/config.js";
import { tensor } from "../../src/core/tensor-factory.js";
import type { BindOptions } from "../../src/model/model.js";
import { INTERPRETER } from "../helpers/cli.js";
import { inferenceClient } from "../helpers/grpc.js";
import { simpleModel, simpleRequest } from "../helpers/models.js";
import { binaryBody, parseBinaryResponse, postAlone, startServer } from "../helpers/server.js";

/** An FP32 identity that runs one request at a time and holds each until `open()` is called. */
function gatedIdentity(): { model: BindOptions; open(): void } {
  let open!: () => void;
  const gate = new Promise<void>((r) => {
    open = r;
  });
  return {
    open,
    model: {
      name: "slow",
      inputs: { INPUT0: tensor("FP32", [-1]) },
      outputs: { OUTPUT0: tensor("FP32", [-1]) },
      fn: async ({ INPUT0 }) => {
        await gate;
        return { OUTPUT0: INPUT0! };
      },
    },
  };
}

/** Region 'r': a 32-byte segment `key` holding 1, 2, 3, 4 and four zeros; spans of 16 bytes. */
async function registerFloats(http: string, key: string) {
  writeFileSync(`/dev/shm/${key}`, Buffer.from(new Float32Array([1, 2, 3, 4, 0, 0, 0, 0]).buffer));
  const reg = await postOnce(`${http}/v2/systemsharedmemory/region/r/register`, {
    key: `/${key}`,
    offset: 0,
    byte_size: 32,
  });
  expect(reg.status).toBe(200);
  return (offset: number) => ({
    shared_memory_region: "r",
    shared_memory_byte_size: 16,
    shared_memory_offset: offset,
  });
}

/** The four floats at offset 16 of segment `key` (where the tests' outputs go). */
const writtenFloats = (key: string) => [
  ...new Float32Array(Uint8Array.from(readFileSync(`/dev/shm/${key}`).subarray(16, 32)).buffer),
];

/** One request on a connection of its own, so that the kernel spreads them over the threads. */
async function postOnce(url: string, body: unknown): Promise<{ status: number; body: any }> {
  const r = await postAlone(url, JSON.stringify(body));
  return { status: r.status, body: JSON.parse(r.text) };
}

async function frontendCounts(metricsUrl: string, family: string): Promise<number[]> {
  const text = await (await fetch(metricsUrl)).text();
  const counts: number[] = [];
  for (const m of text.matchAll(new RegExp(`^${family}\\{frontend="(\\d+)"\\} (\\d+)`, "gm")))
    counts[Number(m[1])] = Number(m[2]);
  return counts;
}

const until = async (cond: () => Promise<boolean>, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe.runIf(supportsReusePort())("workers: frontend threads sharing the ports", () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  it("serves HTTP and gRPC from every thread, with one set of statistics", async () => {
    const server = await startServer([simpleModel], { workers: 2, grpc: 0, metrics: 0 });
    close = () => server.close();
    const url = `${server.urls.http}/v2/models/simple/infer`;
    const N = 60;
    const answers = await Promise.all(Array.from({ length: N }, () => postOnce(url, simpleRequest)));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(answers[0]!.body.outputs[0].data).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));

    const grpc = inferenceClient(server.urls.grpc!);
    try {
      const res = await grpc.call("ModelInfer", {
        model_name: "simple",
        inputs: simpleRequest.inputs.map((i) => ({
          name: i.name,
          datatype: i.datatype,
          shape: i.shape,
          contents: { int_contents: i.data },
        })),
      });
      expect(res.model_name).toBe("simple");
    } finally {
      grpc.close();
    }

    // Both threads took requests in; their counts add up to the model's statistics.
    const counts = await frontendCounts(server.urls.metrics!, "tensorbind_frontend_requests_total");
    expect(counts).toHaveLength(2);
    expect(counts[0]).toBeGreaterThan(0);
    expect(counts[1]).toBeGreaterThan(0);
    expect(counts[0]! + counts[1]!).toBe(N + 1);
    const stats = (await (await fetch(`${server.urls.http}/v2/models/simple/stats`)).json()) as any;
    expect(stats.model_stats[0].inference_stats.success.count).toBe(N + 1);
    const metrics = await (await fetch(server.urls.metrics!)).text();
    expect(metrics).toMatch(/^nv_inference_request_success\{model="simple",version="1"\} 61$/m);

    // A binary body (read into an aligned buffer in the thread, moved to the engine) round-trips.
    const { body: bin, headerLength } = binaryBody(
      {
        inputs: simpleRequest.inputs.map((i) => ({
          name: i.name,
          datatype: i.datatype,
          shape: i.shape,
          parameters: { binary_data_size: 64 },
        })),
        outputs: [{ name: "OUTPUT0", parameters: { binary_data: true } }],
      },
      simpleRequest.inputs.map((i) => new Uint8Array(Int32Array.from(i.data).buffer)),
    );
    const binRes = await fetch(url, {
      method: "POST",
      headers: { "Inference-Header-Content-Length": String(headerLength) },
      body: bin,
    });
    expect(binRes.status).toBe(200);
    const parsed = parseBinaryResponse(
      Buffer.from(await binRes.arrayBuffer()),
      Number(binRes.headers.get("inference-header-content-length")),
    );
    const sum = parsed.outputs.OUTPUT0!;
    expect([...new Int32Array(Uint8Array.from(sum).buffer)]).toEqual(
      Array.from({ length: 16 }, (_, i) => i + 1),
    );

    // The other routes answer from any thread: health, metadata, the dashboard.
    expect((await fetch(`${server.urls.http}/v2/health/ready`)).status).toBe(200);
    expect(((await (await fetch(`${server.urls.http}/v2/models/simple`)).json()) as any).name).toBe("simple");
    expect((await fetch(`${server.urls.http}/v2/models/nope`)).status).toBe(404);
    const snap = await fetch(`${server.urls.http}/dashboard/api/snapshot`);
    expect(snap.status).toBe(200);
    expect(((await snap.json()) as any).server.ready).toBe(true);
  });

  it("replaces a frontend thread that dies; only its in-flight requests fail", async () => {
    const gated = gatedIdentity();
    const server = await startServer([gated.model], { workers: 2, metrics: 0 });
    close = () => server.close();
    const url = `${server.urls.http}/v2/models/slow/infer`;
    const body = { inputs: [{ name: "INPUT0", datatype: "FP32", shape: [2], data: [1, 2] }] };
    const inFlight = Array.from({ length: 16 }, () => postOnce(url, body).catch((err: Error) => err));
    // Wait until every request has reached the engine, then kill thread 0.
    await until(async () => {
      const c = await frontendCounts(server.urls.metrics!, "tensorbind_frontend_requests_total");
      return (c[0] ?? 0) + (c[1] ?? 0) === 16;
    });
    const before = await frontendCounts(server.urls.metrics!, "tensorbind_frontend_requests_total");
    expect(before[0]).toBeGreaterThan(0);
    expect(before[1]).toBeGreaterThan(0);
    await server.frontendPool!.kill(0);
    gated.open();
    const results = await Promise.all(inFlight);
    const ok = results.filter((r) => !(r instanceof Error) && r.status === 200).length;
    // Thread 1's requests are all answered; thread 0's lost their connection.
    expect(ok).toBe(before[1]);

    // A new thread takes over slot 0 and serves again.
    await until(
      async () => (await frontendCounts(server.urls.metrics!, "tensorbind_frontend_restarts_total"))[0] === 1,
    );
    const more = await Promise.all(Array.from({ length: 12 }, () => postOnce(url, body)));
    expect(more.every((r) => r.status === 200)).toBe(true);
    const after = await frontendCounts(server.urls.metrics!, "tensorbind_frontend_requests_total");
    expect(after[0]).toBeGreaterThan(before[0]!);
    expect(after[0]! + after[1]!).toBe(16 + 12);
  });

  it("drains every thread on close: in-flight requests are answered, nothing is left running", async () => {
    const gated = gatedIdentity();
    const server = await startServer([gated.model], { workers: 2, metrics: 0 });
    const url = `${server.urls.http}/v2/models/slow/infer`;
    const body = { inputs: [{ name: "INPUT0", datatype: "FP32", shape: [1], data: [7] }] };
    const inFlight = Array.from({ length: 8 }, () => postOnce(url, body));
    await until(async () => {
      const c = await frontendCounts(server.urls.metrics!, "tensorbind_frontend_requests_total");
      return (c[0] ?? 0) + (c[1] ?? 0) === 8;
    });
    const closed = server.close();
    gated.open();
    await closed;
    const results = await Promise.all(inFlight);
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(200));
    await expect(fetch(`${server.urls.http}/v2/health/live`)).rejects.toThrow();
  });
});

describe.runIf(supportsReusePort())("workers with the shared-memory extension", () => {
  const key = `tbtest-workers-${process.pid}`;
  afterEach(() => rmSync(`/dev/shm/${key}`, { force: true }));

  it("reads inputs from and writes outputs into a client's region from any frontend thread", async () => {
    const server = await startServer(
      [
        {
          name: "double",
          inputs: { X: tensor("FP32", [-1]) },
          outputs: { Y: tensor("FP32", [-1]) },
          fn: ({ X }) => ({ Y: (X!.data as Float32Array).map((v) => 2 * v) }),
        },
      ],
      { workers: 2, shmExtension: "system" },
    );
    try {
      const region = await registerFloats(server.urls.http!, key);
      // Separate connections: the threads that answer are not the one that registered.
      for (let i = 0; i < 6; i++) {
        const res = await postOnce(`${server.urls.http}/v2/models/double/infer`, {
          inputs: [{ name: "X", datatype: "FP32", shape: [4], parameters: region(0) }],
          outputs: [{ name: "Y", parameters: region(16) }],
        });
        expect(res.status).toBe(200);
        // Written into the region: answered without data, as on one thread (and in Triton).
        expect(res.body.outputs).toEqual([{ name: "Y", datatype: "FP32", shape: [4] }]);
      }
      expect(writtenFloats(key)).toEqual([2, 4, 6, 8]);
    } finally {
      await server.close();
    }
  });
});

describe("a Python model's inputs in a client's region, with frontend threads", () => {
  const key = `tbtest-workers-py-${process.pid}`;
  afterEach(() => rmSync(`/dev/shm/${key}`, { force: true }));

  it("are mapped by the worker from the client's segment: the request names the region, no bytes cross threads", async () => {
    const model = fileURLToPath(new URL("../conformance/models/shm_model.py", import.meta.url));
    const server = await startServer(
      [{ name: "where", fn: python(model, "where", { interpreter: INTERPRETER }) }],
      {
        workers: 2,
        shmExtension: "system",
      },
    );
    try {
      const region = await registerFloats(server.urls.http!, key);
      for (let i = 0; i < 4; i++) {
        const res = await postOnce(`${server.urls.http}/v2/models/where/infer`, {
          inputs: [{ name: "INPUT0", datatype: "FP32", shape: [4], parameters: region(0) }],
          outputs: [{ name: "OUTPUT0", parameters: region(16) }, { name: "MAPPING" }],
        });
        expect(res.status).toBe(200);
        const mapping = res.body.outputs.find((o: { name: string }) => o.name === "MAPPING");
        expect(mapping.data).toEqual([`/dev/shm/${key}`]);
      }
      expect(writtenFloats(key)).toEqual([2, 4, 6, 8]);
    } finally {
      await server.close();
    }
  });
});

describe("workers on an older Node.js", () => {
  it("knows which versions share a port", () => {
    expect(supportsReusePort("20.20.2")).toBe(false);
    expect(supportsReusePort("22.11.0")).toBe(false);
    expect(supportsReusePort("22.12.0")).toBe(true);
    expect(supportsReusePort("24.1.0")).toBe(true);
  });

  it("picks the frontend threads for the machine by default", () => {
    expect(workers(undefined, 2, "24.1.0")).toBe(1);
    expect(workers("auto", 4, "24.1.0")).toBe(1);
    expect(workers(undefined, 8, "24.1.0")).toBe(2);
    expect(workers(undefined, 16, "24.1.0")).toBe(4);
    expect(workers(undefined, 128, "24.1.0")).toBe(4);
    expect(workers(undefined, 16, "20.20.2")).toBe(1);
    expect(workers("3", 2, "24.1.0")).toBe(3);
    expect(() => workers(0, 2, "24.1.0")).toThrow(/invalid workers/);
  });
});
