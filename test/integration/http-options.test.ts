import { describe, expect, it } from "vitest";
import { Tensor } from "../../src/core/tensor.js";
import { tensor } from "../../src/core/tensor-factory.js";
import { startServer } from "../helpers/server.js";

const echoParams = {
  name: "params",
  inputs: { X: tensor("INT32", [1]) },
  outputs: { P: tensor("BYTES", [1]) },
  fn: (_inputs: unknown, ctx: { parameters: Record<string, unknown> }) => ({
    P: Tensor.fromStrings([1], [JSON.stringify(ctx.parameters)]),
  }),
};
const body = JSON.stringify({ inputs: [{ name: "X", shape: [1], datatype: "INT32", data: [1] }] });

async function paramsSeen(base: string, headers: Record<string, string>): Promise<Record<string, unknown>> {
  const res = await fetch(`${base}/v2/models/params/infer`, { method: "POST", body, headers });
  const json = (await res.json()) as { outputs: { data: string[] }[] };
  return JSON.parse(json.outputs[0]!.data[0]!);
}

describe("server options over HTTP", () => {
  it("forwards only headers matching the header-forward pattern as request parameters", async () => {
    const server = await startServer([echoParams as never], { headerForwardPattern: "^x-trace" });
    const seen = await paramsSeen(server.urls.http!, { "X-Trace-Id": "abc", "X-Other": "no" });
    expect(seen).toEqual({ "x-trace-id": "abc" });
    await server.close();
  });

  it("ignores custom headers when no pattern is configured", async () => {
    const server = await startServer([echoParams as never]);
    expect(await paramsSeen(server.urls.http!, { "X-Trace-Id": "abc" })).toEqual({});
    await server.close();
  });

  it("reports the configured server id in server metadata, as Triton's --id", async () => {
    const server = await startServer([], { id: "triton" });
    expect(((await (await fetch(`${server.urls.http}/v2`)).json()) as { name: string }).name).toBe("triton");
    await server.close();
  });

  it("refuses bodies over a configured limit with 413 and keeps serving", async () => {
    const server = await startServer([echoParams as never], { maxBodyBytes: 64 });
    const res = await fetch(`${server.urls.http}/v2/models/params/infer`, {
      method: "POST",
      body: body + " ".repeat(100),
    });
    expect(res.status).toBe(413);
    expect((await fetch(`${server.urls.http}/v2/health/ready`)).status).toBe(200);
    await server.close();
  });
});
