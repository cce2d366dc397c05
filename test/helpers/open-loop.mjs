// An open-loop HTTP load generator, run as its own process so that the client does not compete
// with the server's event loop: POSTs `body` to `url` at `rate` requests/s, `count` times,
// whatever the answers take, and prints one JSON line: [{ status, ms }, …] in send order.
// Usage: node open-loop.mjs <url> <rate> <count> <body-json>
import http from "node:http";

const [url, rateArg, countArg, body] = process.argv.slice(2);
const rate = Number(rateArg);
const count = Number(countArg);
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const target = new URL(url);
const payload = Buffer.from(body);

function post() {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = http.request(
      {
        agent,
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: "POST",
        headers: { "Content-Type": "application/json", "Content-Length": payload.length },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode, ms: performance.now() - t0 }));
      },
    );
    req.on("error", (e) => resolve({ status: 0, ms: performance.now() - t0, error: e.message }));
    req.end(payload);
  });
}

const results = [];
const start = performance.now();
for (let i = 0; i < count; i++) {
  const wait = start + (i * 1000) / rate - performance.now();
  if (wait > 1) await new Promise((r) => setTimeout(r, wait));
  results.push(post());
}
process.stdout.write(`${JSON.stringify(await Promise.all(results))}\n`);
agent.destroy();
