#!/usr/bin/env node
// bench/worker-hop: the per-request hop between the server and a Python worker, alone.
// Node sends the infer message the engine sends for a 4 KiB request, the worker (peer.py)
// decodes it and answers with the result message the worker sends; one message in flight
// (as at concurrency 1 with one instance). Transports, alternating A B A B:
//   zmq   zeromq.js Pair <-> pyzmq PAIR over ipc:// (the path before the data socket)
//   uds   node:net <-> a Python socket over a Unix-domain socket, u32-LE length + JSON frames
//   +rel  the same with the slot-release message the server sends after each response
// plus futex-py: two Python processes over a shared-memory futex doorbell (no Node), the
// floor of a cross-process round trip on this machine.
//
//   node bench/worker-hop/run.mjs [--seconds 3] [--rounds 3] [--pin]
// Prints round trips per second and µs per round trip for each run, and the medians.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Pair } from "zeromq";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = join(HERE, "../..");
const { values: opt } = parseArgs({
  options: {
    seconds: { type: "string", default: "3" },
    rounds: { type: "string", default: "3" },
    pin: { type: "boolean", default: false },
    modes: { type: "string", default: "zmq,uds,zmq+rel,uds+rel" },
  },
});
const SECONDS = Number(opt.seconds);
const PY = process.env.TENSORBIND_PYTHON ?? join(REPO, ".venv/bin/python");
const dir = mkdtempSync(join(tmpdir(), "tb-hop-"));

const infer = (id) => ({
  type: "infer",
  id,
  segments: [],
  calls: [
    {
      inputs: [{ name: "INPUT0", datatype: "FP32", shape: [1, 1024], segment: 0, offset: 0, length: 4096 }],
      requested: ["OUTPUT0"],
    },
  ],
  release: [],
});

function peer(args) {
  // --pin: the worker shares CPU 0 with this process, as the benchmarks pin a server and its workers.
  const argv = [PY, join(HERE, "peer.py"), ...args];
  const cmd = opt.pin ? ["taskset", "-c", "0", ...argv] : argv;
  return spawn(cmd[0], cmd.slice(1), { stdio: ["ignore", "pipe", "inherit"] });
}

async function zmqRun(withRelease) {
  const path = join(dir, `z${Math.random()}.sock`);
  const sock = new Pair({ linger: 0 });
  await sock.bind(`ipc://${path}`);
  const child = peer(["zmq", `ipc://${path}`]);
  await sock.receive(); // hello
  let n = 0;
  const end = performance.now() + SECONDS * 1000;
  const t0 = performance.now();
  while (performance.now() < end) {
    await sock.send(JSON.stringify(infer(++n)));
    const [frame] = await sock.receive();
    JSON.parse(frame.toString("utf8"));
    if (withRelease) await sock.send(JSON.stringify({ type: "release", release: [[0, 4096]] }));
  }
  const dt = (performance.now() - t0) / 1000;
  await sock.send(JSON.stringify({ type: "stop" }));
  await once(child, "exit");
  sock.close();
  return { n, dt };
}

function frame(obj) {
  const body = JSON.stringify(obj);
  const len = Buffer.byteLength(body);
  const buf = Buffer.allocUnsafe(4 + len);
  buf.writeUInt32LE(len, 0);
  buf.write(body, 4);
  return buf;
}

async function udsRun(withRelease) {
  const path = join(dir, `u${Math.random()}.sock`);
  const server = net.createServer();
  server.listen(path);
  await once(server, "listening");
  const child = peer(["uds", path]);
  const [conn] = await once(server, "connection");
  conn.setNoDelay?.(true);
  let pending = Buffer.alloc(0);
  let waiter;
  conn.on("data", (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 4) {
      const len = pending.readUInt32LE(0);
      if (pending.length < 4 + len) break;
      const msg = JSON.parse(pending.toString("utf8", 4, 4 + len));
      pending = pending.subarray(4 + len);
      waiter?.(msg);
    }
  });
  const next = () => new Promise((r) => (waiter = r));
  await next(); // hello
  let n = 0;
  const end = performance.now() + SECONDS * 1000;
  const t0 = performance.now();
  while (performance.now() < end) {
    const reply = next();
    conn.write(frame(infer(++n)));
    await reply;
    if (withRelease) conn.write(frame({ type: "release", release: [[0, 4096]] }));
  }
  const dt = (performance.now() - t0) / 1000;
  conn.write(frame({ type: "stop" }));
  await once(child, "exit");
  conn.destroy();
  server.close();
  return { n, dt };
}

function futexRun() {
  const child = peer(["futex-py", String(SECONDS)]);
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  return once(child, "exit").then(() => {
    const r = JSON.parse(out);
    return { n: r.roundTrips, dt: r.seconds };
  });
}

const runs = {
  zmq: () => zmqRun(false),
  "zmq+rel": () => zmqRun(true),
  uds: () => udsRun(false),
  "uds+rel": () => udsRun(true),
  "futex-py": futexRun,
};
const modes = opt.modes.split(",");
const results = Object.fromEntries(modes.map((m) => [m, []]));
for (let r = 0; r < Number(opt.rounds); r++) {
  for (const m of modes) {
    const { n, dt } = await runs[m]();
    results[m].push((dt / n) * 1e6);
    console.error(
      `round ${r + 1} ${m}: ${(n / dt).toFixed(0)} round trips/s, ${((dt / n) * 1e6).toFixed(1)} µs each`,
    );
  }
}
rmSync(dir, { recursive: true, force: true });
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log("| transport | µs per round trip (runs) | median µs | vs zmq |");
console.log("|---|---|---|---|");
const base = med(results.zmq ?? results[modes[0]]);
for (const m of modes) {
  const us = med(results[m]);
  console.log(
    `| ${m} | ${results[m].map((x) => x.toFixed(1)).join(", ")} | ${us.toFixed(1)} | ${(base / us).toFixed(2)}× |`,
  );
}
