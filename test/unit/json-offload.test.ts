import { describe, expect, it } from "vitest";
import type { InferResponse } from "../../src/core/infer.js";
import { Tensor } from "../../src/core/tensor.js";
import { decodeInferRequest } from "../../src/frontends/http/infer-codec.js";
import { tensorToJsonData } from "../../src/frontends/http/json-data.js";
import { formatJsonOutputs, prepareJsonBody } from "../../src/frontends/http/json-offload.js";

const req = (datatype: string, shape: number[], data: string) =>
  `{"inputs":[{"name":"x","datatype":"${datatype}","shape":${JSON.stringify(shape)},"data":${data}}]}`;

async function outcome(text: string, offload: boolean): Promise<unknown> {
  const body = Buffer.from(text);
  try {
    const prepared = offload ? await prepareJsonBody(body, { minBytes: 0 }) : undefined;
    const d = decodeInferRequest(body, {
      model: "m",
      version: undefined,
      headerLength: undefined,
      prepared,
      jsonScanMinBytes: offload ? 0 : Number.POSITIVE_INFINITY,
    });
    return d.request.inputs.map((t) => [t.name, t.datatype, t.shape, Buffer.from(t.bytes).toString("hex")]);
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/** How many event-loop turns run while `p` is pending: 0 when its work ran on the loop itself. */
async function turnsWhile<T>(start: () => Promise<T>): Promise<{ value: T; turns: number }> {
  let turns = 0;
  let done = false;
  const spin = () => {
    if (done) return;
    turns++;
    setImmediate(spin);
  };
  const p = start();
  setImmediate(spin);
  const value = await p;
  done = true;
  return { value, turns };
}

describe("JSON numbers converted on pool threads", () => {
  it.each([
    req("FP32", [2, 3], "[[1,2,3],[4,5,6.5]]"),
    req("INT64", [2], "[9223372036854775807, -1]"),
    req("UINT8", [1], "[256]"),
    req("FP32", [4], "[1,2,3]"),
    req("FP32", [3, 1], "[1,[2],3]"),
    req("BYTES", [1], '["a"]'),
    req("FP16", [1], "[1]"),
    req("FP32", [2], "[1,2"),
    req("FP32", ["a" as unknown as number], "[1]"),
    req("nope", [1], "[1]"),
    `{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[1]},{"name":"x2","datatype":"BOOL","shape":[2],"data":[true,0]}]}`,
  ])("decode %s as the general path does", async (text) => {
    expect(await outcome(text, true)).toEqual(await outcome(text, false));
  });

  it("reads a large body's data without holding the event loop", async () => {
    const values = Float32Array.from({ length: 1 << 20 }, (_, i) => Math.fround(Math.cos(i)));
    const body = Buffer.from(req("FP32", [values.length], `[${Array.from(values).join(",")}]`));
    const { value, turns } = await turnsWhile(() => prepareJsonBody(body)!);
    expect(turns).toBeGreaterThan(0);
    expect(Buffer.from(value!.decoded!.get(0)!.bytes).equals(Buffer.from(values.buffer))).toBe(true);
  });

  it("formats large outputs off the event loop, to the same text", async () => {
    const values = Float32Array.from({ length: 1 << 18 }, (_, i) => Math.fround(Math.sin(i) * 1e4));
    const t = new Tensor("big", "FP32", [values.length], new Uint8Array(values.buffer));
    const small = new Tensor("small", "INT32", [2], new Uint8Array(Int32Array.from([1, -2]).buffer));
    const res = { model: "m", version: "1", outputs: [t, small] } as unknown as InferResponse;
    const { value, turns } = await turnsWhile(() => formatJsonOutputs(res, new Set())!);
    expect(turns).toBeGreaterThan(0);
    expect(value.get(t.name)!.toString()).toBe(tensorToJsonData(t));
    expect(value.has(small.name)).toBe(false); // small ones are formatted in place
    expect(formatJsonOutputs(res, "all")).toBeUndefined();
  });
});
