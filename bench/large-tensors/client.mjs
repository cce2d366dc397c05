// One client for both sides of the comparison: C connections, each with one request in flight,
// warmed up once, then timed for D ms. Prints {rps, failed, p50, p99} (µs) as JSON.
//   node client.mjs --url http://127.0.0.1:P --model M [--input INPUT0 --output OUTPUT0] --bytes N
//     a KServe v2 binary-tensor request of N bytes of FP32 (JSON header + raw tensor), whole answer read
//   node client.mjs --tcp P --bytes N
//     N raw bytes to a TCP echo (../python-vs-pytriton/echo.mjs server), N bytes read back

import http from "node:http";
import net from "node:net";
import { parseArgs } from "node:util";

const { values: o } = parseArgs({
  options: {
    url: { type: "string" },
    tcp: { type: "string" },
    model: { type: "string" },
    input: { type: "string", default: "INPUT0" },
    output: { type: "string", default: "OUTPUT0" },
    bytes: { type: "string", default: String(64 << 20) },
    concurrency: { type: "string", default: "1" },
    "duration-ms": { type: "string", default: "3000" },
  },
});
const N = Number(o.bytes) / 4;
const shape = [1, N]; // the models batch (max_batch_size >= 1)
const head = Buffer.from(
  JSON.stringify({
    inputs: [{ name: o.input, datatype: "FP32", shape, parameters: { binary_data_size: N * 4 } }],
    outputs: [{ name: o.output, parameters: { binary_data: true } }],
  }),
);
const payload = Buffer.alloc(N * 4, 7);
const url = o.url === undefined ? undefined : new URL(`/v2/models/${o.model}/infer`, o.url);
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(o.concurrency) });
const lats = [];
let done = 0;
let failed = 0;

const sockets = [];
const tcpOne = (sock) =>
  new Promise((resolve) => {
    const t0 = performance.now();
    let got = 0;
    const onData = (c) => {
      got += c.length;
      if (got < payload.length) return;
      sock.off("data", onData);
      lats.push(performance.now() - t0);
      resolve();
    };
    sock.on("data", onData);
    sock.write(payload);
  });
async function tcpSocket() {
  const sock = net.connect(Number(o.tcp), "127.0.0.1");
  sock.setNoDelay(true);
  await new Promise((r) => sock.once("connect", r));
  sockets.push(sock);
  return sock;
}

const httpOne = () =>
  new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request(
      url,
      {
        method: "POST",
        agent,
        headers: {
          "Content-Type": "application/octet-stream",
          "Content-Length": head.length + payload.length,
          "Inference-Header-Content-Length": head.length,
        },
      },
      (res) => {
        let got = 0;
        res.on("data", (c) => (got += c.length));
        res.on("end", () => {
          if (res.statusCode !== 200 || got < payload.length) failed++;
          lats.push(performance.now() - t0);
          resolve();
        });
      },
    );
    req.on("error", reject);
    req.write(head);
    req.end(payload);
  });

// Warm-up first (a fresh arena segment, first-touch pages), then the timed window.
const conc = Number(o.concurrency);
const ones = await Promise.all(
  Array.from({ length: conc }, async () => {
    if (o.tcp === undefined) return httpOne;
    const sock = await tcpSocket();
    return () => tcpOne(sock);
  }),
);
await Promise.all(ones.map((one) => one()));
lats.length = 0;
const t0 = performance.now();
const deadline = t0 + Number(o["duration-ms"]);
const conn = async (one) => {
  while (performance.now() < deadline) {
    await one();
    done++;
  }
};
await Promise.all(ones.map(conn));
for (const sock of sockets) sock.destroy();
const s = (performance.now() - t0) / 1000;
lats.sort((a, b) => a - b);
agent.destroy();
process.stdout.write(
  `${JSON.stringify({ rps: done / s, failed, p50: lats[lats.length >> 1] * 1000, p99: lats[Math.floor(0.99 * (lats.length - 1))] * 1000 })}\n`,
);
