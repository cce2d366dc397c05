import { type ClientDuplexStream, Metadata } from "@grpc/grpc-js";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { tensor } from "../../src/core/tensor-factory.js";
import type { BindOptions } from "../../src/model/model.js";
import { inferenceClient, rawRequest } from "../helpers/grpc.js";
import { startServer } from "../helpers/server.js";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT = "00f067aa0ba902b7";
const TRACEPARENT = `00-${TRACE}-${PARENT}-01`;

const slow: BindOptions = {
  name: "slow",
  inputs: { X: tensor("INT32", [1]) },
  outputs: { Y: tensor("INT32", [1]) },
  fn: async ({ X }) => {
    await new Promise((r) => setTimeout(r, 15));
    return { Y: X! };
  },
};
const body = (id?: string) =>
  JSON.stringify({
    ...(id ? { id } : {}),
    inputs: [{ name: "X", shape: [1], datatype: "INT32", data: [3] }],
  });

/** A server whose log lines land in `lines`, parsed. */
async function logged(options: { logRequests: boolean }) {
  const lines: Record<string, any>[] = [];
  const logger = pino({ level: "info" }, { write: (s: string) => lines.push(JSON.parse(s)) });
  const server = await startServer([slow], { logger, grpc: 0, ...options });
  const requests = () => lines.filter((l) => l.msg === "request" || l.msg === "request failed");
  return { server, lines, requests };
}

describe("request logs and W3C trace context", () => {
  it("logs every request with its ids and stage timings, echoing traceparent from HTTP", async () => {
    const { server, requests } = await logged({ logRequests: true });
    try {
      const base = server.urls.http!;
      const res = await fetch(`${base}/v2/models/slow/infer`, {
        method: "POST",
        body: body("req-7"),
        headers: { traceparent: TRACEPARENT, "x-request-id": "envoy-abc-123" },
      });
      expect(res.status).toBe(200);
      await fetch(`${base}/v2/models/slow/infer`, { method: "POST", body: body() });
      const [traced, plain] = requests();
      expect(traced).toMatchObject({
        level: 30,
        msg: "request",
        rid: "envoy-abc-123",
        id: "req-7",
        model: "slow",
        version: "1",
        trace_id: TRACE,
        parent_id: PARENT,
        batch_size: 1,
      });
      expect(traced!.span_id).toMatch(/^[0-9a-f]{16}$/);
      expect(traced!.span_id).not.toBe(PARENT);
      expect(traced!.compute_infer_us).toBeGreaterThanOrEqual(15_000 * 0.9);
      expect(traced!.total_us).toBeGreaterThanOrEqual(traced!.compute_infer_us);
      for (const k of ["queue_us", "compute_input_us", "compute_output_us"])
        expect(traced![k]).toBeGreaterThanOrEqual(0);
      // Without trace headers: a generated request id, no trace fields.
      expect(plain!.rid).toMatch(/^[0-9a-f]{6}-1$/);
      expect(plain).not.toHaveProperty("trace_id");
      expect(plain).not.toHaveProperty("id");
    } finally {
      await server.close();
    }
  });

  it("takes traceparent from gRPC metadata, for ModelInfer and for every request of a stream", async () => {
    const { server, requests } = await logged({ logRequests: true });
    const client = inferenceClient(server.urls.grpc!);
    try {
      const md = new Metadata();
      md.set("traceparent", TRACEPARENT);
      const input = [{ name: "X", datatype: "INT32", shape: [1], bytes: new Uint8Array(4) }];
      await client.call("ModelInfer", rawRequest("slow", input, { id: "g1" }), { metadata: md });
      const stream = (
        client.raw.ModelStreamInfer as (m: Metadata) => ClientDuplexStream<unknown, unknown>
      ).call(client.raw, md);
      const ended = new Promise<void>((resolve, reject) => {
        stream.on("data", () => {});
        stream.on("end", resolve);
        stream.on("error", reject);
      });
      stream.write(rawRequest("slow", input, { id: "s1" }));
      stream.write(rawRequest("slow", input, { id: "s2" }));
      stream.end();
      await ended;
      const lines = requests();
      expect(lines.map((l) => l.id)).toEqual(["g1", "s1", "s2"]);
      for (const l of lines) expect(l).toMatchObject({ trace_id: TRACE, parent_id: PARENT, model: "slow" });
    } finally {
      client.close();
      await server.close();
    }
  });

  it("logs a failed request with its code and reason; ignores an invalid traceparent", async () => {
    const { server, requests } = await logged({ logRequests: true });
    try {
      const res = await fetch(`${server.urls.http!}/v2/models/slow/infer`, {
        method: "POST",
        body: JSON.stringify({ inputs: [{ name: "X", shape: [1], datatype: "FP32", data: [3] }] }),
        headers: { traceparent: `00-${"0".repeat(32)}-${PARENT}-01`, "x-request-id": "bad id with spaces" },
      });
      expect(res.status).toBe(400);
      const [line] = requests();
      expect(line).toMatchObject({
        msg: "request failed",
        model: "slow",
        code: "TB_ERR_INVALID_ARG",
        reason: "OTHER",
      });
      expect(line!.error).toMatch(/data-type/);
      expect(line).not.toHaveProperty("trace_id");
      expect(line!.rid).not.toBe("bad id with spaces");
    } finally {
      await server.close();
    }
  });

  it("puts the caller's trace on a server error's log line even without request logging", async () => {
    const lines: Record<string, any>[] = [];
    const logger = pino({ level: "info" }, { write: (x: string) => lines.push(JSON.parse(x)) });
    const boom: BindOptions = {
      ...slow,
      name: "boom",
      fn: () => {
        throw new Error("kaput");
      },
    };
    const server = await startServer([boom], { logger, grpc: 0 });
    try {
      const res = await fetch(`${server.urls.http!}/v2/models/boom/infer`, {
        method: "POST",
        body: body(),
        headers: { traceparent: TRACEPARENT, "x-request-id": "r-42" },
      });
      expect(res.status).toBe(500);
      const line = lines.find((l) => l.msg === "request failed");
      expect(line).toMatchObject({ level: 50, rid: "r-42", trace_id: TRACE, parent_id: PARENT });
      // The same over gRPC, from the call's metadata.
      const client = inferenceClient(server.urls.grpc!);
      try {
        const md = new Metadata();
        md.set("traceparent", TRACEPARENT);
        const input = [{ name: "X", datatype: "INT32", shape: [1], bytes: new Uint8Array(4) }];
        await expect(client.call("ModelInfer", rawRequest("boom", input), { metadata: md })).rejects.toThrow(
          /kaput/,
        );
      } finally {
        client.close();
      }
      const grpcLine = lines.find((l) => l.msg === "gRPC call failed");
      expect(grpcLine).toMatchObject({ level: 50, method: "ModelInfer", trace_id: TRACE, parent_id: PARENT });
    } finally {
      await server.close();
    }
  });

  it("writes no request lines unless asked", async () => {
    const { server, requests, lines } = await logged({ logRequests: false });
    try {
      const res = await fetch(`${server.urls.http!}/v2/models/slow/infer`, {
        method: "POST",
        body: body(),
        headers: { traceparent: TRACEPARENT },
      });
      expect(res.status, await res.text()).toBe(200); // a request was served, and not logged
      expect(requests()).toEqual([]);
      expect(lines.some((l) => l.msg === "tensorbind is ready")).toBe(true);
    } finally {
      await server.close();
    }
  });
});
