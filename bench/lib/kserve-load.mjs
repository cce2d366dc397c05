// A closed-loop KServe v2 HTTP client for the benches (http-identity/loadgen.mjs,
// metrics-overhead/alternate.mjs): one identity request built once and sent back to back over
// keep-alive connections, `concurrency` at a time.
import http from "node:http";

/**
 * The body and headers of an identity request: FP32 INPUT0 [1, n] holding `values`, as JSON
 * (`data`) or with the binary tensor extension (the output asked for in binary too).
 * Example: identityRequest("binary", Float32Array.from({ length: 16 }, (_, i) => i))
 */
export function identityRequest(format, values) {
  const n = values.length;
  let body;
  const headers = {};
  if (format === "json") {
    body = Buffer.from(
      JSON.stringify({
        inputs: [{ name: "INPUT0", shape: [1, n], datatype: "FP32", data: Array.from(values) }],
      }),
    );
    headers["Content-Type"] = "application/json";
  } else if (format === "binary") {
    const head = Buffer.from(
      JSON.stringify({
        inputs: [
          { name: "INPUT0", shape: [1, n], datatype: "FP32", parameters: { binary_data_size: n * 4 } },
        ],
        outputs: [{ name: "OUTPUT0", parameters: { binary_data: true } }],
      }),
    );
    body = Buffer.concat([head, Buffer.from(values.buffer, values.byteOffset, values.byteLength)]);
    headers["Inference-Header-Content-Length"] = String(head.length);
    headers["Content-Type"] = "application/octet-stream";
  } else {
    throw new Error(`format must be json or binary, not ${format}`);
  }
  headers["Content-Length"] = String(body.length);
  return { body, headers };
}

/**
 * A target: POST of `request` to /v2/models/{model}/infer at `baseUrl` over a keep-alive agent of
 * `concurrency` sockets. once() resolves with {ok (status 200), us (latency), bytes (response)};
 * it never rejects (a socket error is ok: false). Call close() at the end.
 * Example: const t = inferTarget("http://127.0.0.1:8000", "identity_fp32", req, 8);
 */
export function inferTarget(baseUrl, model, request, concurrency) {
  const url = new URL(baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const opts = {
    agent,
    host: url.hostname,
    port: url.port,
    method: "POST",
    path: `/v2/models/${model}/infer`,
    headers: request.headers,
  };
  const once = () => postOnce(opts, request.body);
  return { once, close: () => agent.destroy() };
}

/** One request with node:http `opts`; resolves with {ok, us, bytes}, never rejects. */
export function postOnce(opts, body) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const req = http.request(opts, (res) => {
      let bytes = 0;
      res.on("data", (c) => {
        bytes += c.length;
      });
      res.on("end", () =>
        resolve({ ok: res.statusCode === 200, us: Number(process.hrtime.bigint() - t0) / 1e3, bytes }),
      );
      res.on("error", () => resolve({ ok: false, us: 0, bytes: 0 }));
    });
    req.on("error", () => resolve({ ok: false, us: 0, bytes: 0 }));
    req.end(body);
  });
}

/**
 * `concurrency` loops calling once() back to back for `ms` (a loop finishes its request in flight).
 * With record, returns {lat (µs of each answer 200), errors, bytes, seconds}; without (a warm-up),
 * the same with nothing counted.
 * Example: const { lat, seconds } = await closedLoop(t.once, { ms: 2000, concurrency: 8 });
 */
export async function closedLoop(once, { ms, concurrency, record = true }) {
  const end = performance.now() + ms;
  const lat = [];
  let errors = 0;
  let bytes = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const r = await once();
        if (!record) continue;
        if (r.ok) {
          lat.push(r.us);
          bytes += r.bytes;
        } else errors++;
      }
    }),
  );
  return { lat, errors, bytes, seconds: (performance.now() - t0) / 1e3 };
}

/**
 * The p-th percentile of `xs` (nearest rank, rounded down; sorts `xs` in place); 0 when empty.
 * Example: percentile([5, 1, 3, 2], 50) = 3.
 */
export function percentile(xs, p) {
  if (xs.length === 0) return 0;
  xs.sort((a, b) => a - b);
  return xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
}
