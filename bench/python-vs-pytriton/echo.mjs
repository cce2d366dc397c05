// Bare loopback TCP echo: the physical limit for moving N bytes in and N bytes out over a
// loopback socket. `node echo.mjs server --ready-file F [--store-bytes N]` echoes every byte back
// (with --store-bytes, each whole N-byte request once it has arrived);
// `node echo.mjs client --port P --bytes N --concurrency C --duration-ms D` keeps C
// connections each sending N bytes and reading N bytes back (one "request"), and prints JSON.
import { writeFileSync } from "node:fs";
import net from "node:net";
import { parseArgs } from "node:util";

const { values: o, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    "ready-file": { type: "string" },
    "store-bytes": { type: "string" },
    port: { type: "string" },
    bytes: { type: "string", default: String(64 << 20) },
    concurrency: { type: "string", default: "1" },
    "duration-ms": { type: "string", default: "3000" },
  },
});

if (positionals[0] === "server") {
  // --store-bytes N: store and forward — read a whole N-byte request, then answer it (what a
  // request/response server at best does on one connection), instead of echoing as bytes arrive.
  const store = o["store-bytes"] === undefined ? 0 : Number(o["store-bytes"]);
  const srv = net.createServer((s) => {
    s.setNoDelay(true);
    if (store === 0) return s.pipe(s);
    const buf = Buffer.allocUnsafe(store);
    let got = 0;
    s.on("data", (c) => {
      c.copy(buf, got);
      got += c.length;
      if (got < store) return;
      got = 0;
      s.write(buf);
    });
  });
  srv.listen(0, "127.0.0.1", () => {
    const port = srv.address().port;
    if (o["ready-file"]) writeFileSync(o["ready-file"], JSON.stringify({ port, pid: process.pid }));
  });
  process.on("SIGTERM", () => process.exit(0));
} else {
  const N = Number(o.bytes);
  const payload = Buffer.alloc(N, 7);
  const deadline = performance.now() + Number(o["duration-ms"]);
  let done = 0;
  const lats = [];
  const one = (sock) =>
    new Promise((res) => {
      let got = 0;
      const t0 = performance.now();
      const onData = (c) => {
        got += c.length;
        if (got >= N) {
          sock.off("data", onData);
          lats.push(performance.now() - t0);
          res();
        }
      };
      sock.on("data", onData);
      sock.write(payload);
    });
  const conn = async () => {
    const sock = net.connect(Number(o.port), "127.0.0.1");
    sock.setNoDelay(true);
    await new Promise((r) => sock.once("connect", r));
    await one(sock); // warm-up
    lats.length = 0;
    while (performance.now() < deadline) {
      await one(sock);
      done++;
    }
    sock.destroy();
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: Number(o.concurrency) }, conn));
  const s = (performance.now() - t0) / 1000;
  lats.sort((a, b) => a - b);
  process.stdout.write(
    `${JSON.stringify({ rps: done / s, p50: lats[lats.length >> 1] * 1000, p99: lats[Math.floor(0.99 * (lats.length - 1))] * 1000 })}\n`,
  );
}
