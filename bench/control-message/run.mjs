#!/usr/bin/env node
// bench/control-message: what one call's envelope costs, per call, without the tensor bytes.
// The Arrow IPC stream the data plane used until 2026-12 (arrow-envelope.mjs + pyarrow.ipc) against
// the descriptor messages it uses now (name, datatype, shape, segment, offset, length in the JSON
// control frame; the values stay 64-byte aligned, the Arrow layout of a primitive array). Measures
// Node's encode + decode, the worker's decode + encode, and the worker's import time of each.
//
//   node bench/control-message/run.mjs          (needs npm run build and .venv)
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { Tensor } from "../../dist/core/tensor.js";
import { fmt, log, machineLine, REPO } from "../lib/common.mjs";
import { decodeCall, encodeCall } from "./arrow-envelope.mjs";

const ITER = 20_000;
const bytes = new Uint8Array(4096);
const slot = new Uint8Array(1 << 16);
const columns = [{ name: "INPUT0", datatype: "FP32", shape: [1, 1024], parts: [bytes] }];

function time(fn) {
  for (let i = 0; i < 2000; i++) fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < ITER; i++) fn();
  return Number(process.hrtime.bigint() - t0) / ITER / 1000; // µs per call
}

const arrowNode = time(() => {
  const enc = encodeCall(columns);
  enc.writeInto(slot);
  decodeCall(slot.subarray(0, enc.byteLength)); // the outputs come back the same way
});
const descriptorNode = time(() => {
  const msg = JSON.stringify({
    type: "infer",
    id: 1,
    calls: [
      {
        inputs: columns.map((c) => ({
          name: c.name,
          datatype: c.datatype,
          shape: c.shape,
          segment: 0,
          offset: 0,
          length: 4096,
        })),
        requested: [],
      },
    ],
  });
  slot.set(bytes, 0);
  const reply = JSON.parse(msg.replace("infer", "result"));
  for (const d of reply.calls[0].inputs)
    new Tensor(d.name, d.datatype, d.shape, slot.subarray(d.offset, d.offset + d.length));
});

const py = `
import time, json, mmap, sys, subprocess
import numpy as np
N=${ITER}
m = mmap.mmap(-1, 1 << 20)
arr = np.ones((1, 1024), np.float32)
def arrow_call():
    import pyarrow as pa
    buf = pa.py_buffer(m)
    flat = pa.Array.from_buffers(pa.float32(), arr.size, [None, pa.py_buffer(arr.reshape(-1).view(np.uint8))])
    ext = pa.ExtensionArray.from_storage(pa.fixed_shape_tensor(pa.float32(), [1, 1024]), pa.FixedSizeListArray.from_arrays(flat, arr.size))
    md = {b"tensorbind.datatype": b"FP32", b"tensorbind.shape": b"[1, 1024]"}
    batch = pa.record_batch([ext], schema=pa.schema([pa.field("INPUT0", ext.type, False, md)]))
    sink = pa.MockOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as w: w.write_batch(batch)
    size = sink.size()
    target = pa.FixedSizeBufferWriter(pa.py_buffer(memoryview(m)[0:size]))
    with pa.ipc.new_stream(target, batch.schema) as w: w.write_batch(batch)
    r = pa.ipc.open_stream(pa.BufferReader(buf.slice(0, size))).read_next_batch()
    col = r.column(0).storage.values
    np.frombuffer(m, np.float32, 1024, col.buffers()[1].address - buf.address).reshape(1, 1024)
def descriptor_call():
    msg = json.loads('{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,1024],"segment":0,"offset":0,"length":4096}]}')
    d = msg["inputs"][0]
    np.frombuffer(m, np.float32, 1024, d["offset"]).reshape(d["shape"])
    out = np.frombuffer(m, np.float32, arr.size, 8192).reshape(arr.shape)
    np.copyto(out, arr)
    json.dumps({"outputs":[{"name":"OUTPUT0","datatype":"FP32","shape":list(arr.shape),"segment":0,"offset":8192,"length":arr.nbytes}]})
res = {}
for name, f in (("arrow", arrow_call), ("descriptor", descriptor_call)):
    for _ in range(500): f()
    t = time.perf_counter()
    for _ in range(N): f()
    res[name] = (time.perf_counter() - t) / N * 1e6
def imp(mod):
    best = 1e9
    for _ in range(5):
        t = time.perf_counter(); subprocess.run([sys.executable, "-c", "import " + mod], check=True); best = min(best, time.perf_counter() - t)
    return best * 1e3
res["import_numpy_ms"] = imp("numpy, zmq")
res["import_pyarrow_ms"] = imp("numpy, zmq, pyarrow")
print(json.dumps(res))
`;
log("python side");
const r = spawnSync(join(REPO, ".venv/bin/python"), ["-c", py], { encoding: "utf8" });
if (r.status !== 0) throw new Error(r.stderr);
const p = JSON.parse(r.stdout);
console.log(
  `# Control message: Arrow IPC envelope vs descriptors (${new Date().toISOString().slice(0, 10)})\n`,
);
console.log(machineLine());
console.log(
  `\n| per call (1 FP32 tensor [1,1024] in, 1 out) | Arrow IPC stream | descriptors |\n|---|---|---|`,
);
console.log(`| Node encode + decode (µs) | ${fmt(arrowNode, 1)} | ${fmt(descriptorNode, 1)} |`);
console.log(
  `| worker decode + encode (µs, incl. the 4 KiB output copy) | ${fmt(p.arrow, 1)} | ${fmt(p.descriptor, 1)} |`,
);
console.log(
  `| worker import: numpy + pyzmq (+ pyarrow) (ms) | ${fmt(p.import_pyarrow_ms, 0)} | ${fmt(p.import_numpy_ms, 0)} |`,
);
