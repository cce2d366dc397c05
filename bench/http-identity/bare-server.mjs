#!/usr/bin/env node
// The reference for bench/http-identity: a bare node:http server that does the least
// possible work to answer a KServe v2 identity request the way perf_analyzer and the
// bench's load generator need it:
//   - POST /v2/models/<m>/infer: parse the JSON request (and the binary-tensor extension),
//     echo every input back as OUTPUT<i> with the same datatype, shape and data;
//   - GET model metadata / config / statistics with fixed answers (perf_analyzer reads them
//     once per run and around each measurement window);
//   - GET /v2, /v2/health/{live,ready}.
// It validates nothing and computes no statistics beyond two counters. It knows one model,
// identity_fp32 (INPUT0 -> OUTPUT0, FP32, dims [-1], max_batch_size 8).
//
// Usage: node bare-server.mjs [--port 0] [--host 127.0.0.1] [--ready-file <path>]
import { renameSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { parseArgs } from "node:util";

const { values: args } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    host: { type: "string", default: "127.0.0.1" },
    "ready-file": { type: "string" },
  },
});

const MODEL = "identity_fp32";
const metadata = JSON.stringify({
  name: MODEL,
  versions: ["1"],
  platform: "bare_node_http",
  inputs: [{ name: "INPUT0", datatype: "FP32", shape: [-1, -1] }],
  outputs: [{ name: "OUTPUT0", datatype: "FP32", shape: [-1, -1] }],
});
const config = JSON.stringify({
  name: MODEL,
  platform: "bare_node_http",
  max_batch_size: 8,
  input: [{ name: "INPUT0", data_type: "TYPE_FP32", dims: [-1] }],
  output: [{ name: "OUTPUT0", data_type: "TYPE_FP32", dims: [-1] }],
  instance_group: [{ kind: "KIND_CPU", count: 1 }],
});
const serverMetadata = JSON.stringify({
  name: "bare",
  version: "0",
  extensions: ["binary_tensor_data", "statistics"],
});
let count = 0;
let ns = 0n;
const d = (c, n) => ({ count: c, ns: Number(n) });
function stats() {
  const z = d(0, 0);
  return JSON.stringify({
    model_stats: [
      {
        name: MODEL,
        version: "1",
        last_inference: Date.now(),
        inference_count: count,
        execution_count: count,
        inference_stats: {
          success: d(count, ns),
          fail: z,
          queue: d(count, 0),
          compute_input: d(count, 0),
          compute_infer: d(count, ns),
          compute_output: d(count, 0),
          cache_hit: z,
          cache_miss: z,
        },
        batch_stats: [],
      },
    ],
  });
}

function send(res, status, body, headers = {}) {
  res.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

function infer(req, res, body) {
  const t0 = process.hrtime.bigint();
  const hdrLen = req.headers["inference-header-content-length"];
  const jsonEnd = hdrLen === undefined ? body.length : Number(hdrLen);
  const request = JSON.parse(body.subarray(0, jsonEnd).toString("utf8"));
  const wantBinary = new Map();
  for (const o of request.outputs ?? []) wantBinary.set(o.name, o.parameters?.binary_data === true);
  const allBinary = request.parameters?.binary_data_output === true;

  let offset = jsonEnd;
  const outputs = [];
  const chunks = [];
  request.inputs.forEach((input, i) => {
    const name = `OUTPUT${i}`;
    const size = input.parameters?.binary_data_size;
    const binaryOut = allBinary || wantBinary.get(name) === true;
    let bytes;
    let data = input.data;
    if (size !== undefined) {
      bytes = body.subarray(offset, offset + size);
      offset += size;
    }
    if (binaryOut) {
      if (bytes === undefined) bytes = Buffer.from(Float32Array.from(data.flat(Infinity)).buffer);
      outputs.push({
        name,
        datatype: input.datatype,
        shape: input.shape,
        parameters: { binary_data_size: bytes.length },
      });
      chunks.push(bytes);
    } else {
      if (data === undefined)
        data = Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4));
      outputs.push({ name, datatype: input.datatype, shape: input.shape, data });
    }
  });
  const response = { model_name: MODEL, model_version: "1", outputs };
  if (request.id !== undefined) response.id = request.id;
  const json = JSON.stringify(response);
  count++;
  ns += process.hrtime.bigint() - t0;
  if (chunks.length === 0) return send(res, 200, json);
  const head = Buffer.from(json);
  const out = Buffer.concat([head, ...chunks]);
  res.writeHead(200, {
    "Content-Type": "application/octet-stream",
    "Inference-Header-Content-Length": head.length,
    "Content-Length": out.length,
  });
  res.end(out);
}

const server = http.createServer((req, res) => {
  const path = req.url.split("?", 1)[0];
  if (req.method === "POST" && path.endsWith("/infer")) {
    const parts = [];
    req.on("data", (c) => parts.push(c));
    req.on("end", () => {
      try {
        infer(req, res, parts.length === 1 ? parts[0] : Buffer.concat(parts));
      } catch (e) {
        send(res, 400, JSON.stringify({ error: String(e) }));
      }
    });
    return;
  }
  const m = /^\/v2\/models\/([^/]+)(?:\/versions\/[^/]+)?(\/config|\/stats|\/ready)?$/.exec(path);
  if (path === "/v2/health/live" || path === "/v2/health/ready") return send(res, 200, '{"live":true}');
  if (path === "/v2") return send(res, 200, serverMetadata);
  if (path === "/v2/models/stats") return send(res, 200, stats());
  if (m && m[1] === MODEL) {
    if (m[2] === "/config") return send(res, 200, config);
    if (m[2] === "/stats") return send(res, 200, stats());
    if (m[2] === "/ready") return send(res, 200, "{}");
    return send(res, 200, metadata);
  }
  send(res, 404, '{"error":"not found"}');
});
server.keepAliveTimeout = 75_000;

server.listen(Number(args.port), args.host, () => {
  const { port } = server.address();
  const info = JSON.stringify({ http: `http://${args.host}:${port}`, pid: process.pid });
  if (args["ready-file"]) {
    writeFileSync(`${args["ready-file"]}.tmp`, info);
    renameSync(`${args["ready-file"]}.tmp`, args["ready-file"]);
  } else {
    process.stdout.write(`${info}\n`);
  }
});

const stop = () => {
  if (args["ready-file"]) rmSync(args["ready-file"], { force: true });
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
