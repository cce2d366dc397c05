import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { INTERPRETER } from "../helpers/cli.js";
import { PB_HEADER, servedRepository } from "../helpers/repository.js";
import { binaryBody, parseBinaryResponse } from "../helpers/server.js";

process.env.TENSORBIND_PYTHON = INTERPRETER;

// step_b also says where its input lies: the permissions and file of the mapping holding it
// (/proc/self/maps), and how many read-only shared mappings of deleted files it still has.
const STEP_A = `${PB_HEADER}
import os

class TritonPythonModel:
    def execute(self, requests):
        out = []
        for r in requests:
            x = pb_utils.get_input_tensor_by_name(r, "IN").as_numpy()
            if x.flat[0] < 0:  # the crash test
                os._exit(3)
            out.append(pb_utils.InferenceResponse([pb_utils.Tensor("OUT", x + 1)]))
        return out
`;
const STEP_B = `${PB_HEADER}
import numpy as np

def where(arr):
    addr = arr.__array_interface__["data"][0]
    found, stale = "?", 0
    for line in open("/proc/self/maps"):
        parts = line.split(None, 5)
        lo, hi = (int(x, 16) for x in parts[0].split("-"))
        path = parts[5].strip() if len(parts) > 5 else ""
        if parts[1] == "r--s" and path.endswith("(deleted)"):
            stale += 1
        if lo <= addr < hi:
            found = parts[1] + " " + path
    return f"{found}|{stale}"

class TritonPythonModel:
    def execute(self, requests):
        out = []
        for r in requests:
            x = pb_utils.get_input_tensor_by_name(r, "IN").as_numpy()
            out.append(pb_utils.InferenceResponse([
                pb_utils.Tensor("OUT", x + 1),
                pb_utils.Tensor("WHERE", np.array([[where(x).encode()]], dtype=object))]))
        return out
`;
const io = `input [ { name: "IN" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUT" data_type: TYPE_FP32 dims: [ -1 ] }`;
const FILES = {
  "step_a/config.pbtxt": `backend: "python"\nmax_batch_size: 8\n${io} ]\n`,
  "step_a/1/model.py": STEP_A,
  "step_b/config.pbtxt": `backend: "python"\nmax_batch_size: 8\n${io},
  { name: "WHERE" data_type: TYPE_STRING dims: [ 1 ] } ]\n`,
  "step_b/1/model.py": STEP_B,
  "chain/config.pbtxt": `platform: "ensemble"
max_batch_size: 8
${io}, { name: "WHERE" data_type: TYPE_STRING dims: [ 1 ] } ]
ensemble_scheduling { step [
  { model_name: "step_a" model_version: -1 input_map { key: "IN" value: "IN" } output_map { key: "OUT" value: "mid" } },
  { model_name: "step_b" model_version: -1 input_map { key: "IN" value: "mid" }
    output_map [ { key: "OUT" value: "OUT" }, { key: "WHERE" value: "WHERE" } ] }
] }
`,
  "chain/1/.keep": "",
};

interface Answer {
  readonly out: Float32Array;
  readonly where: string;
  readonly stale: number;
}

async function infer(base: string, model: string, x: Float32Array): Promise<Answer> {
  const { body, headerLength } = binaryBody(
    {
      inputs: [
        {
          name: "IN",
          shape: [1, x.length],
          datatype: "FP32",
          parameters: { binary_data_size: x.byteLength },
        },
      ],
      outputs: [
        { name: "OUT", parameters: { binary_data: true } },
        ...(model === "step_a" ? [] : [{ name: "WHERE" }]),
      ],
    },
    [new Uint8Array(x.buffer, x.byteOffset, x.byteLength)],
  );
  const res = await fetch(`${base}/v2/models/${model}/infer`, {
    method: "POST",
    headers: { "Inference-Header-Content-Length": String(headerLength) },
    body,
  });
  const answer = Buffer.from(await res.arrayBuffer());
  expect(res.status, answer.toString().slice(0, 300)).toBe(200);
  const { header, outputs } = parseBinaryResponse(
    answer,
    Number(res.headers.get("inference-header-content-length")),
  );
  const raw = outputs.OUT!;
  const out = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
  const whereOutput = (header.outputs as { name: string; data?: string[] }[]).find((o) => o.name === "WHERE");
  const [where, stale] = String(whereOutput?.data?.[0]).split("|");
  return { out, where: where!, stale: Number(stale) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// V8's gc() without --expose-gc on the command line: the flag set at run time, read in a new context.
setFlagsFromString("--expose-gc");
const collectGarbage = runInNewContext("gc") as () => void;

// workers 2: requests come in on frontend threads, which borrow the outputs from the engine's thread.
describe.each([1, 2])(
  "an ensemble step reads the previous Python step's output where that worker wrote it (workers %i)",
  (workers) => {
    const served = servedRepository(FILES, { metrics: 0, workers });

    it("maps step_a's output segment read-only in step_b instead of copying into step_b's arena", async () => {
      const base = served.server.urls.http!;
      const direct = await infer(base, "step_b", new Float32Array(1024).fill(3));
      expect(direct.where).toMatch(/^rw-s \/dev\/shm\//); // a request body: step_b's own arena
      const chained = await infer(base, "chain", new Float32Array(1024).fill(3));
      expect(chained.out.every((v) => v === 5)).toBe(true);
      expect(chained.where).toMatch(/^r--s \/dev\/shm\//); // step_a's output segment, in place
      expect(chained.where.split(" ")[1]).not.toBe(direct.where.split(" ")[1]);
    }, 60_000);

    // Also a regression test of the HTTP response path: node writes each output as a Buffer of its
    // own over the worker's slot, and the original views could be collected mid-write, giving the
    // slot back to the worker while the response still went out from it (the tail of one answer
    // held another request's values, in about half of the runs before the fix).
    it.each(["chain", "step_a"])(
      "keeps every output intact until it is written, under concurrency (%s)",
      async (model) => {
        const base = served.server.urls.http!;
        const elements = 1 << 20; // 4 MiB per tensor: several slots and segments of step_a at once
        const steps = model === "chain" ? 2 : 1;
        // Full collections while the responses go out: what is unreachable is collected at once.
        const churn = setInterval(collectGarbage, 2);
        const rounds: Answer[][] = [];
        try {
          for (let round = 0; round < 6; round++) {
            const x = (k: number) => new Float32Array(elements).fill(round * 10 + k);
            rounds.push(await Promise.all(Array.from({ length: 8 }, (_, k) => infer(base, model, x(k)))));
          }
        } finally {
          clearInterval(churn);
        }
        rounds.forEach((answers, round) => {
          answers.forEach((a, k) => {
            const want = round * 10 + k + steps;
            expect(a.out.length).toBe(elements);
            expect(
              [a.out[0], a.out[elements >> 1], a.out[elements - 1]],
              `round ${round}, request ${k}`,
            ).toEqual([want, want, want]);
          });
        });
      },
      120_000,
    );

    it("unmaps step_a's segments in step_b once step_a drops them after the burst", async () => {
      const base = served.server.urls.http!;
      // The burst above grew step_a's arena; its empty segments go after 2 s idle, and step_b is
      // told to unmap them: no read-only mapping of a deleted segment is left in step_b.
      await sleep(4500);
      const after = await infer(base, "chain", new Float32Array(1024).fill(1));
      expect(after.out[0]).toBe(3);
      expect(after.where).toMatch(/^r--s /);
      expect(after.stale).toBe(0);
    }, 60_000);

    it("goes on after step_a's worker dies: step_b drops its mappings of the dead worker's segments", async () => {
      const base = served.server.urls.http!;
      const big = await infer(base, "chain", new Float32Array(1 << 20).fill(2)); // step_a's segments mapped in step_b
      expect(big.where).toMatch(/^r--s /);
      const res = await fetch(`${base}/v2/models/chain/infer`, {
        method: "POST",
        body: JSON.stringify({
          inputs: [{ name: "IN", shape: [1, 4], datatype: "FP32", data: [-1, 0, 0, 0] }],
        }),
      });
      expect(res.status).toBe(500); // step_a died with the request
      let after: Answer | undefined;
      for (let i = 0; i < 100 && after === undefined; i++) {
        await sleep(100);
        after = await infer(base, "chain", new Float32Array(1024).fill(5)).catch(() => undefined);
      }
      expect(after?.out[0]).toBe(7);
      expect(after?.where).toMatch(/^r--s /);
      expect(after?.stale).toBe(0); // the dead worker's names were swept, and step_b unmapped them
    }, 60_000);
  },
);
