import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { type ClientDuplexStream, status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import type { LazyBackend } from "../../src/backends/lazy.js";
import type { PythonBackend } from "../../src/backends/python/python-backend.js";
import { supportsReusePort } from "../../src/config.js";
import { Registry } from "../../src/model/registry.js";
import { INTERPRETER, ROOT } from "../helpers/cli.js";
import { inferenceClient } from "../helpers/grpc.js";
import { getJson, jsonOf } from "../helpers/json.js";
import { PB_HEADER, runPython, servedRepository, serveRepository } from "../helpers/repository.js";

process.env.TENSORBIND_PYTHON = INTERPRETER;
const run = promisify(execFile);

// Decoupled Python-backend models (Triton's response sender), driven by tritonclient's gRPC stream.
const TENSORS = `input [ { name: "IN" data_type: TYPE_INT32 dims: [ 1 ] } ]
output [
  { name: "OUT" data_type: TYPE_INT32 dims: [ 1 ] },
  { name: "NOTE" data_type: TYPE_STRING dims: [ 1 ] }
]`;

const FILES: Record<string, string> = {
  "repeat/config.pbtxt": `backend: "python"
model_transaction_policy { decoupled: true }
${TENSORS}
`,
  // IN = n >= 0: n responses OUT = 0..n-1 sent from execute, then the final flag alone.
  // IN = -1: an error response (final). IN = -3: one response, no FINAL. IN = -5: execute raises. IN = -9: a response whose NOTE
  // is what the sender said when the model sent after FINAL (the last request that had n >= 0).
  "repeat/1/model.py": `${PB_HEADER}
class TritonPythonModel:
    def initialize(self, args):
        assert pb_utils.using_decoupled_model_transaction_policy(json.loads(args["model_config"]))
        self.after_final = ""

    def execute(self, requests):
        for request in requests:
            n = int(pb_utils.get_input_tensor_by_name(request, "IN").as_numpy()[0])
            sender = request.get_response_sender()
            if n == -5:
                raise pb_utils.TritonModelException("asked to fail")
            if n == -3:  # one response, then the sender is dropped without FINAL
                sender.send(pb_utils.InferenceResponse([pb_utils.Tensor("OUT", np.array([0], dtype=np.int32))]))
                continue
            if n == -1:
                sender.send(pb_utils.InferenceResponse(error=pb_utils.TritonError("negative count")),
                            flags=pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL)
                continue
            if n == -9:
                note = np.array([self.after_final.encode()], dtype=np.object_)
                sender.send(pb_utils.InferenceResponse([pb_utils.Tensor("NOTE", note)]),
                            flags=pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL)
                continue
            for i in range(n):
                sender.send(pb_utils.InferenceResponse([pb_utils.Tensor("OUT", np.array([i], dtype=np.int32))]))
            sender.send(flags=pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL)
            try:
                sender.send(pb_utils.InferenceResponse([pb_utils.Tensor("OUT", np.array([99], dtype=np.int32))]))
            except pb_utils.TritonModelException as exc:
                self.after_final = str(exc)
        return None
`,
  "threaded/config.pbtxt": `backend: "python"
model_transaction_policy { decoupled: true }
${TENSORS}
`,
  // Answers from a thread after execute() returned: n responses OUT = 10*i, FINAL on the last.
  "threaded/1/model.py": `${PB_HEADER}
import threading, time

class TritonPythonModel:
    def execute(self, requests):
        for request in requests:
            n = int(pb_utils.get_input_tensor_by_name(request, "IN").as_numpy()[0])
            threading.Thread(target=self.answer, args=(request.get_response_sender(), n, threading.get_ident())).start()
        return None

    def answer(self, sender, n, caller):
        time.sleep(0.05)
        assert threading.get_ident() != caller
        for i in range(n):
            flags = pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL if i == n - 1 else 0
            sender.send(pb_utils.InferenceResponse([pb_utils.Tensor("OUT", np.array([10 * i], dtype=np.int32))]), flags=flags)
`,
  "watch/config.pbtxt": `backend: "python"
model_transaction_policy { decoupled: true }
${TENSORS}
`,
  // IN = 0: responses every 20 ms from a thread until the sender says the client went away, then
  // FINAL. IN = -1: NOTE says what the last such thread saw.
  "watch/1/model.py": `${PB_HEADER}
import threading, time

class TritonPythonModel:
    def initialize(self, args):
        self.seen = "nothing yet"

    def execute(self, requests):
        for request in requests:
            sender = request.get_response_sender()
            if int(pb_utils.get_input_tensor_by_name(request, "IN").as_numpy()[0]) == -1:
                note = np.array([self.seen.encode()], dtype=np.object_)
                sender.send(pb_utils.InferenceResponse([pb_utils.Tensor("NOTE", note)]),
                            flags=pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL)
            else:
                threading.Thread(target=self.stream, args=(request, sender)).start()
        return None

    def stream(self, request, sender):
        for i in range(500):
            if sender.is_cancelled():
                self.seen = f"cancelled after {i} responses, request says {request.is_cancelled()}"
                sender.send(flags=pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL)
                return
            sender.send(pb_utils.InferenceResponse([pb_utils.Tensor("OUT", np.array([i], dtype=np.int32))]))
            time.sleep(0.02)
        self.seen = "never cancelled"
        sender.send(flags=pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL)
`,
  // A plain model calling the decoupled ones through BLS: exec(decoupled=True) iterates their responses.
  "bls_caller/config.pbtxt": `backend: "python"
input [ { name: "IN" data_type: TYPE_INT32 dims: [ 1 ] } ]
output [ { name: "NOTE" data_type: TYPE_STRING dims: [ 1 ] } ]
`,
  "bls_caller/1/model.py": `${PB_HEADER}
def responses(model, n):
    call = pb_utils.InferenceRequest(model_name=model, requested_output_names=["OUT"],
                                     inputs=[pb_utils.Tensor("IN", np.array([n], dtype=np.int32))])
    seen = []
    for r in call.exec(decoupled=True):
        if r.has_error():
            seen.append("error: " + r.error().message())
            continue
        t = pb_utils.get_output_tensor_by_name(r, "OUT")
        seen.append(int(t.as_numpy()[0]) if t is not None else "empty")
    return seen

class TritonPythonModel:
    def execute(self, requests):
        out = []
        for r in requests:
            n = int(pb_utils.get_input_tensor_by_name(r, "IN").as_numpy()[0])
            note = {"repeat": responses("repeat", n), "threaded": responses("threaded", 2)}
            out.append(pb_utils.InferenceResponse([pb_utils.Tensor("NOTE", np.array([json.dumps(note).encode()], dtype=np.object_))]))
        return out
`,
};

const CLIENT = `
import json, os, queue, threading, numpy as np
import tritonclient.grpc as grpcclient, tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

client = grpcclient.InferenceServerClient(os.environ["GRPC"])
got = queue.Queue()
client.start_stream(callback=lambda result, error: got.put((result, error)))

def request(model, n, rid, empty_final=True):
    x = grpcclient.InferInput("IN", [1], "INT32")
    x.set_data_from_numpy(np.array([n], dtype=np.int32))
    client.async_stream_infer(model, [x], request_id=rid, enable_empty_final_response=empty_final)

def collect(until_finals, timeout=20):
    out, finals = [], 0
    while finals < until_finals:
        result, error = got.get(timeout=timeout)
        if error is not None:
            # tritonclient gives the in-band error without the response: its message only
            out.append({"error": error.message()})
            finals += 1
            continue
        r = result.get_response()
        final = r.parameters["triton_final_response"].bool_param
        item = {"id": r.id, "final": final, "outputs": [o.name for o in r.outputs]}
        if any(o.name == "OUT" for o in r.outputs):
            item["out"] = int(result.as_numpy("OUT")[0])
        if any(o.name == "NOTE" for o in r.outputs):
            item["note"] = result.as_numpy("NOTE")[0].decode()
        out.append(item)
        finals += final
    return out

def done(**results):
    # The stream's thread would keep the script alive: stop it (bounded), then leave.
    stopper = threading.Thread(target=client.stop_stream, daemon=True)
    stopper.start()
    stopper.join(10)
    print(json.dumps(results), flush=True)
    os._exit(0)
`;

describe("decoupled Python-backend models over gRPC streaming", () => {
  const registry = new Registry();
  const served = servedRepository(FILES, { grpc: 0, registry });

  const env = () => ({
    GRPC: served.server.urls.grpc!.replace(/^grpc:\/\//, ""),
    HTTP: served.server.urls.http!.replace(/^https?:\/\//, ""),
  });

  it("sends N responses per request (0: the final flag alone), each a stream message with the request id", async () => {
    const r = await runPython<{ three: unknown[]; zero: unknown[]; silent: unknown[] }>(
      `${CLIENT}
request("repeat", 3, "three")
three = collect(1)
request("repeat", 0, "zero")
zero = collect(1)
# Without triton_enable_empty_final_response the final flag alone sends nothing: the next
# request's messages come first.
request("repeat", 0, "silent", empty_final=False)
request("repeat", 1, "after")
silent = collect(1)
done(three=three, zero=zero, silent=silent)
`,
      env(),
    );
    expect(r.three).toEqual([
      { id: "three", final: false, outputs: ["OUT"], out: 0 },
      { id: "three", final: false, outputs: ["OUT"], out: 1 },
      { id: "three", final: false, outputs: ["OUT"], out: 2 },
      { id: "three", final: true, outputs: [] },
    ]);
    expect(r.zero).toEqual([{ id: "zero", final: true, outputs: [] }]);
    expect(r.silent).toEqual([
      { id: "after", final: false, outputs: ["OUT"], out: 0 },
      { id: "after", final: true, outputs: [] },
    ]);
  }, 60_000);

  it("delivers responses a thread sends after execute() returned, interleaving requests", async () => {
    const r = await runPython<{ items: { id: string; final: boolean; out: number }[] }>(
      `${CLIENT}
request("threaded", 3, "a")
request("threaded", 2, "b")
done(items=collect(2))
`,
      env(),
    );
    const of = (id: string) => r.items.filter((i) => i.id === id);
    expect(of("a").map((i) => [i.out, i.final])).toEqual([
      [0, false],
      [10, false],
      [20, true],
    ]);
    expect(of("b").map((i) => [i.out, i.final])).toEqual([
      [0, false],
      [10, true],
    ]);
  }, 60_000);

  it("reports error responses and a failing execute in-band, refuses a send after FINAL, and keeps serving", async () => {
    const r = await runPython<{
      error: unknown[];
      raised: unknown[];
      dropped: unknown[];
      note: unknown[];
      again: unknown[];
    }>(
      `${CLIENT}
request("repeat", -1, "err")
error = collect(1)
request("repeat", -5, "raise")
raised = collect(1)
request("repeat", -3, "drop")
dropped = collect(1)
request("repeat", 2, "two")
collect(1)
request("repeat", -9, "note")
note = collect(1)
request("repeat", 1, "again")
again = collect(1)
done(error=error, raised=raised, dropped=dropped, note=note, again=again)
`,
      env(),
    );
    expect(r.error).toEqual([{ error: "negative count" }]);
    expect(r.raised).toEqual([
      { error: "Failed to process the request(s) for model 'repeat', message: asked to fail" },
    ]);
    // A sender dropped without FINAL ends its request with an error (Triton would leave it open).
    expect(r.dropped).toEqual([
      { id: "drop", final: false, outputs: ["OUT"], out: 0 },
      { error: "the model dropped the request's response sender without sending FINAL" },
    ]);
    expect(r.note).toEqual([
      {
        id: "note",
        final: true,
        outputs: ["NOTE"],
        note: "Unable to send response. Response sender has been closed.",
      },
    ]);
    expect(r.again).toEqual([
      { id: "again", final: false, outputs: ["OUT"], out: 0 },
      { id: "again", final: true, outputs: [] },
    ]);
  }, 60_000);

  it("tells the model when the client's stream is gone (is_cancelled)", async () => {
    const r = await runPython<{ first: unknown; note: string }>(
      `${CLIENT}
request("watch", 0, "w")
first = got.get(timeout=20)[0].get_response().id
client.stop_stream(cancel_requests=True)
time_waited = 0
import time
note = ""
while time_waited < 10:
    time.sleep(0.2); time_waited += 0.2
    got = queue.Queue()
    client.start_stream(callback=lambda result, error: got.put((result, error)))
    request("watch", -1, "ask")
    note = collect(1)[0]["note"]
    client.stop_stream()
    if note.startswith("cancelled"):
        break
print(json.dumps({"first": first, "note": note}))
`,
      env(),
    );
    expect(r.first).toBe("w");
    expect(r.note).toMatch(/^cancelled after \d+ responses, request says True$/);
  }, 60_000);

  it("ends a request with an error when its worker dies mid-stream; the restarted worker serves", async () => {
    const backend = (registry.get("watch").backend as LazyBackend).loaded as PythonBackend;
    const pid = backend.pids[0]!;
    const r = await runPython<{ first: string; end: unknown; after: unknown }>(
      `${CLIENT}
import signal
request("watch", 0, "w")
first = got.get(timeout=20)[0].get_response().id
os.kill(${pid}, signal.SIGKILL)
end = None
while end is None:
    result, error = got.get(timeout=20)
    if error is not None:
        end = error.message()
import time
after = None
for _ in range(50):  # the worker restarts after a backoff
    request("watch", -1, "ask")
    item = collect(1)[0]
    if "note" in item:
        after = item
        break
    time.sleep(0.2)
done(first=first, end=end, after=after)
`,
      env(),
    );
    expect(r.first).toBe("w");
    expect(r.end).toMatch(/^python worker 0 of model 'watch' (died \()?killed by SIGKILL/);
    expect(r.after).toMatchObject({ id: "ask", final: true, note: "nothing yet" });
    expect(backend.pids[0]).not.toBe(pid);
  }, 60_000);

  it("refuses unary infer on a decoupled model as Triton does (HTTP 501, gRPC UNIMPLEMENTED)", async () => {
    const r = await runPython<{ http: [string, string]; grpc: [string, string] }>(
      `${CLIENT}
x = httpclient.InferInput("IN", [1], "INT32"); x.set_data_from_numpy(np.array([1], dtype=np.int32))
try:
    httpclient.InferenceServerClient(os.environ["HTTP"], network_timeout=20).infer("repeat", [x]); http = ["", "no error"]
except InferenceServerException as e:
    http = [str(e.status()), e.message()]
g = grpcclient.InferInput("IN", [1], "INT32"); g.set_data_from_numpy(np.array([1], dtype=np.int32))
try:
    client.infer("repeat", [g], client_timeout=20); grpc = ["", "no error"]
except InferenceServerException as e:
    grpc = [str(e.status()), e.message()]
done(http=http, grpc=grpc)
`,
      env(),
    );
    expect(r.http).toEqual([
      "501",
      "HTTP end point doesn't support models with decoupled transaction policy",
    ]);
    expect(r.grpc).toEqual([
      "StatusCode.UNIMPLEMENTED",
      "ModelInfer RPC doesn't support models with decoupled transaction policy",
    ]);
  }, 60_000);

  it("counts each request once, and each response by its index (Triton's response_stats)", async () => {
    const body = await getJson(`${served.server.urls.http}/v2/models/repeat/stats`);
    const model = body.model_stats[0];
    expect(model.inference_stats.success.count).toBe(9); // an error response is still an executed request
    expect(model.inference_stats.fail.count).toBe(1); // the request whose execute raised
    const responses = model.response_stats;
    // Index 0: six requests answered with outputs, two with an error, two with the final flag alone.
    expect(responses["0"].success.count).toBe(6);
    expect(responses["0"].fail.count).toBe(2);
    expect(responses["0"].empty_response.count).toBe(2);
    expect(responses["0"].compute_infer.count).toBe(8);
    expect(responses["1"].fail.count).toBe(1); // the dropped sender's error
    expect(responses["3"].empty_response.count).toBe(1); // "three": OUT 0, 1, 2, then FINAL
    expect(responses["3"].success.count).toBe(0);
    const grpc = await runPython<Record<string, Record<string, number>>>(
      `${CLIENT}
stats = client.get_inference_statistics("repeat", as_json=True)["model_stats"][0]["response_stats"]
done(**{k: {f: int(v.get(f, {}).get("count", 0)) for f in ("success", "fail", "empty_response")} for k, v in stats.items()})
`,
      env(),
    );
    expect(grpc["0"]).toEqual({ success: 6, fail: 2, empty_response: 2 });
    expect(grpc["3"]).toEqual({ success: 0, fail: 0, empty_response: 1 });
  }, 60_000);

  it("lets a model iterate a decoupled model's responses through BLS (exec(decoupled=True))", async () => {
    const call = async (n: number) => {
      const res = await fetch(`${served.server.urls.http}/v2/models/bls_caller/infer`, {
        method: "POST",
        body: JSON.stringify({ inputs: [{ name: "IN", datatype: "INT32", shape: [1], data: [n] }] }),
      });
      expect(res.status).toBe(200);
      return JSON.parse((await jsonOf(res)).outputs[0].data[0]);
    };
    // The final flag alone comes as an empty response; a thread's responses come after execute returned.
    expect(await call(3)).toEqual({ repeat: [0, 1, 2, "empty"], threaded: [0, 10] });
    expect(await call(-1)).toEqual({ repeat: ["error: negative count"], threaded: [0, 10] });
  }, 60_000);

  it("is measured by perf_analyzer --streaming as a decoupled model (every response counted)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tb-pa-"));
    try {
      const data = join(dir, "in.json");
      writeFileSync(data, JSON.stringify({ data: [{ IN: [3] }] }));
      const pa = process.env.PERF_ANALYZER ?? join(ROOT, ".venv", "bin", "perf_analyzer");
      const { stdout } = await run(
        pa,
        ["-m", "threaded", "-u", env().GRPC, "-i", "grpc", "--streaming", "--input-data", data].concat([
          "--concurrency-range",
          "2",
          "--measurement-interval",
          "2000",
          "--stability-percentage",
          "100",
        ]),
        { timeout: 120_000 },
      );
      expect(stdout).toContain("Detected decoupled model");
      const requests = Number(/Throughput: ([\d.]+) infer\/sec/.exec(stdout)?.[1]);
      const responses = Number(/Response Throughput: ([\d.]+) infer\/sec/.exec(stdout)?.[1]);
      expect(requests).toBeGreaterThan(0);
      expect(responses / requests).toBeGreaterThan(2.8); // three responses per request
      expect(responses / requests).toBeLessThan(3.2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  it.runIf(supportsReusePort())(
    "streams through frontend threads too (--workers 2)",
    async () => {
      const threaded = await serveRepository(served.repo, { grpc: 0, workers: 2 });
      try {
        const r = await runPython<{ items: unknown[] }>(
          `${CLIENT}
request("threaded", 2, "w")
request("repeat", 0, "z")
done(items=collect(2))
`,
          { GRPC: threaded.urls.grpc!.replace(/^grpc:\/\//, "") },
        );
        expect(r.items).toContainEqual({ id: "z", final: true, outputs: [] });
        expect(r.items.filter((i) => (i as { id: string }).id === "w")).toEqual([
          { id: "w", final: false, outputs: ["OUT"], out: 0 },
          { id: "w", final: true, outputs: ["OUT"], out: 10 },
        ]);
      } finally {
        await threaded.close();
      }
    },
    120_000,
  );

  it("stops within its grace period with a request still streaming: the stream is cancelled, the workers exit", async () => {
    const ownRegistry = new Registry();
    const own = await serveRepository(served.repo, {
      http: false,
      grpc: 0,
      shutdownGraceMs: 300,
      registry: ownRegistry,
    });
    const client = inferenceClient(own.urls.grpc!);
    const call = (client.raw.ModelStreamInfer as () => ClientDuplexStream<unknown, unknown>).call(client.raw);
    const first = new Promise<void>((resolve) => call.once("data", () => resolve()));
    const ended = new Promise<string>((resolve) => {
      call.on("error", (e: { code?: number }) => resolve(`error ${e.code}`));
      call.on("status", (st: { code: number }) => resolve(`status ${st.code}`));
    });
    call.write({
      model_name: "watch",
      id: "w",
      inputs: [{ name: "IN", datatype: "INT32", shape: [1] }],
      raw_input_contents: [Buffer.alloc(4)],
    });
    await first;
    const pid = ((ownRegistry.get("watch").backend as LazyBackend).loaded as PythonBackend).pids[0]!;
    const started = Date.now();
    await own.close();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await ended).toBe(`error ${status.CANCELLED}`); // the grace period ended the stream
    expect(() => process.kill(pid, 0)).toThrow(); // the worker is gone
    client.close();
  }, 60_000);
});
