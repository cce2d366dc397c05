import { describe, expect, it } from "vitest";
import { INTERPRETER } from "../helpers/cli.js";
import { PB_HEADER, servedRepository } from "../helpers/repository.js";

process.env.TENSORBIND_PYTHON = INTERPRETER;

// The first request (value 0) holds the only instance for a while, so the others queue behind
// it; once executions are quick again they reach the worker together in one message
// (src/scheduler/bundle.ts). Each execute()
// answers how many requests it got, how many calls the worker's message held (read off the
// worker's handle(msg) frame) and its input plus one.
const MODEL = `${PB_HEADER}import inspect
import time

def calls_in_message():
    for f in inspect.stack():
        msg = f.frame.f_locals.get("msg")
        if isinstance(msg, dict) and "calls" in msg:
            return len(msg["calls"])
    return -1

class TritonPythonModel:
    def execute(self, requests):
        out = []
        for r in requests:
            x = pb_utils.get_input_tensor_by_name(r, "IN").as_numpy()
            if x[0, 0] == 0:
                time.sleep(0.6)
            out.append(pb_utils.InferenceResponse([
                pb_utils.Tensor("OUT", x + 1),
                pb_utils.Tensor("N", np.array([[len(requests)]], dtype=np.int32)),
                pb_utils.Tensor("CALLS", np.array([[calls_in_message()]], dtype=np.int32)),
            ]))
        return out
`;
const CONFIG = `backend: "python"
max_batch_size: 8
input [ { name: "IN" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUT" data_type: TYPE_FP32 dims: [ -1 ] }, { name: "N" data_type: TYPE_INT32 dims: [ 1 ] },
  { name: "CALLS" data_type: TYPE_INT32 dims: [ 1 ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]
`;

interface Answer {
  outputs: { name: string; data: number[] }[];
}

async function infer(base: string, value: number): Promise<Answer> {
  const res = await fetch(`${base}/v2/models/slow/infer`, {
    method: "POST",
    body: JSON.stringify({
      inputs: [{ name: "IN", shape: [1, 4], datatype: "FP32", data: [value, 7, 7, 7] }],
    }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Answer;
}

describe("requests queued for a busy Python instance", () => {
  const served = servedRepository({ "slow/config.pbtxt": CONFIG, "slow/1/model.py": MODEL });

  it("are each executed on their own, answered with their own outputs, and counted one execution each", async () => {
    const base = served.server.urls.http!;
    const first = infer(base, 0);
    await new Promise((r) => setTimeout(r, 200)); // the first one is in the model now
    const answers = await Promise.all([first, ...[1, 2, 3, 4, 5, 6, 7].map((v) => infer(base, v))]);
    answers.forEach((a, v) => {
      const out = a.outputs.find((o) => o.name === "OUT")!;
      expect(out.data).toEqual([v + 1, 8, 8, 8]);
      expect(a.outputs.find((o) => o.name === "N")!.data).toEqual([1]); // never merged into one call
    });
    // The first took 0.6 s: the next one goes alone (slow models do not bundle); it is quick, so
    // the ones still queued then go to the worker in one message, one call each (six of them,
    // unless a busy machine delayed some request's arrival).
    const calls = answers.map((a) => a.outputs.find((o) => o.name === "CALLS")!.data[0]!);
    expect(calls[0]).toBe(1);
    expect(Math.max(...calls)).toBeGreaterThanOrEqual(2);
    expect(Math.max(...calls)).toBeLessThanOrEqual(6);
    const stats = (await (await fetch(`${base}/v2/models/slow/stats`)).json()) as {
      model_stats: {
        inference_count: number;
        execution_count: number;
        inference_stats: Record<string, { count: number; ns: number }>;
      }[];
    };
    const s = stats.model_stats[0]!;
    expect(s.inference_count).toBe(8);
    expect(s.execution_count).toBe(8);
    expect(s.inference_stats.compute_infer!.count).toBe(8);
    // The queued ones waited for the first (0.6 s) in the queue, not in their own compute time.
    expect(s.inference_stats.queue!.ns / 1e9).toBeGreaterThan(7 * 0.1);
    expect(s.inference_stats.compute_infer!.ns / 1e9).toBeLessThan(1.5);
  }, 60_000);
});
