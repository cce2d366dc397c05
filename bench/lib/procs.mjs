// Child processes of a bench: servers waited on until ready, clients run with a time limit, CPU
// pinning, and one cleanup path. Everything runs asynchronously, so that a SIGINT or SIGTERM
// (Ctrl-C, `timeout …`) reaches the handler installed here, which stops the servers and kills
// the clients before the bench exits: nothing is left behind. A bench that ends by an exception
// still kills what is left (SIGKILL from the 'exit' handler).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { cpus } from "node:os";
import { basename, join } from "node:path";
import { log, REPO, sleep } from "./common.mjs";

export const SERVER_CPU = 0;
export const CLIENT_CPU = 1;

// ------------------------------------------------------------------ cleanup
/** Live children: {stop(): Promise, kill(): void}. */
const live = new Set();
let hooked = false;
let shuttingDown = null;
/** The signal being handled (then no new child starts: a retry must not outlive the bench), or null. */
export const shutdown = () => shuttingDown;
function track(entry) {
  if (!hooked) {
    hooked = true;
    for (const [sig, status] of [
      ["SIGINT", 130],
      ["SIGTERM", 143],
    ]) {
      process.once(sig, () => {
        shuttingDown = sig;
        // What fails now (a killed client, a stopped server) is this stop, not a finding: the
        // bench's own error must not end the process before its servers have stopped.
        const quiet = (e) => log(`stopping: ${String(e?.message ?? e).split("\n")[0]}`);
        process.on("uncaughtException", quiet);
        process.on("unhandledRejection", quiet);
        log(`${sig}: stopping ${live.size} child process(es)`);
        // A child that does not stop is killed by its own stop(); this is the last resort.
        setTimeout(() => process.exit(status), 30_000).unref();
        Promise.allSettled([...live].map((e) => e.stop())).then(() => process.exit(status));
      });
    }
    process.on("exit", () => {
      for (const e of live) e.kill();
    });
  }
  live.add(entry);
  return () => live.delete(entry);
}

// ------------------------------------------------------------------ pinning
let tasksetWorks;
/**
 * CPU pinning with taskset: servers on CPU 0, clients on CPU 1, so that they do not compete for
 * one core. On only when taskset can pin to both CPUs (installed, allowed by the affinity mask)
 * and there are at least two. Example:
 *   const { on, pin } = pinning(!opt["no-pin"]); spawn(...pin(SERVER_CPU, ["node", "x.mjs"]));
 */
export function pinning(enabled = true) {
  if (enabled && tasksetWorks === undefined) {
    tasksetWorks =
      cpus().length >= 2 &&
      [0, 1].every((cpu) => spawnSync("taskset", ["-c", String(cpu), "true"]).status === 0);
  }
  const on = enabled && tasksetWorks;
  return { on, pin: (cpu, argv) => (on ? ["taskset", "-c", String(cpu), ...argv] : argv) };
}

// ------------------------------------------------------------------ clients
/**
 * Runs argv to its end and resolves with {code, signal, out (stdout + stderr), timedOut}; after
 * timeoutMs it is killed (SIGKILL: a hung perf_analyzer ignores nothing else reliably). Never
 * rejects: a command that cannot start resolves with code null and the error in `out`.
 * Example: const { code, out } = await runChild(["node", "loadgen.mjs"], { timeoutMs: 60_000 });
 */
export function runChild(argv, { timeoutMs = 120_000, cwd = REPO, env = process.env } = {}) {
  if (shuttingDown) {
    return Promise.resolve({
      code: null,
      signal: shuttingDown,
      out: "not started: stopping\n",
      timedOut: false,
    });
  }
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let timedOut = false;
    let settled = false;
    const kill = () => child.kill("SIGKILL");
    const untrack = track({ stop: async () => kill(), kill });
    child.stdout.on("data", (c) => {
      out += c;
    });
    child.stderr.on("data", (c) => {
      out += c;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, timeoutMs);
    const done = (code, signal) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      untrack();
      resolve({ code, signal, out, timedOut });
    };
    child.on("error", (e) => {
      out += `${argv[0]}: ${e.message}\n`;
      done(null, null);
    });
    child.on("close", done);
  });
}

// ------------------------------------------------------------------ servers
function readReadyFile(path) {
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch {
    return null; // being written
  }
}

async function answers200(url) {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    await r.arrayBuffer();
    return r.status === 200;
  } catch {
    return false;
  }
}

/**
 * Starts a server and resolves once it is ready: its ready file holds JSON (`readyFile`; that JSON
 * is `info`) or `readyUrl` answers 200. Rejects, with the tail of its stderr, when it exits or
 * is not ready within timeoutMs (then it is killed). `detached`: the server gets its own process
 * group and stop() signals the whole group (a server that starts helpers: tritonserver, stubs).
 * stdout: "ignore" | "inherit"; stderr: "tail" (kept, last 6000 chars, see stderr()) | "inherit"
 * | "ignore". stop() sends SIGTERM (SIGKILL after killAfterMs) and resolves with {code, sig}.
 * Example:
 *   const s = await startServer({ argv: tensorbindServe({ models: "m.ts", readyFile: f }), readyFile: f });
 *   try { ... s.info.http ... } finally { await s.stop(); }
 */
export async function startServer({
  argv,
  env = process.env,
  cwd = REPO,
  readyFile,
  readyUrl,
  timeoutMs = 30_000,
  detached = false,
  stdout = "ignore",
  stderr = "tail",
  pollMs = 5,
  killAfterMs = 10_000,
  name = basename(argv.find((a) => /\.(m?js|ts|py)$/.test(a)) ?? argv[0]),
}) {
  if (!readyFile === !readyUrl) throw new Error("startServer: give readyFile or readyUrl");
  if (shuttingDown) throw new Error(`not started: stopping on ${shuttingDown}`);
  if (readyFile) rmSync(readyFile, { force: true });
  const t0 = performance.now();
  const child = spawn(argv[0], argv.slice(1), {
    cwd,
    env,
    detached,
    stdio: ["ignore", stdout, stderr === "tail" ? "pipe" : stderr],
  });
  let tail = "";
  child.stderr?.on("data", (c) => {
    tail = (tail + c).slice(-6000);
  });
  let exited = null;
  child.on("exit", (code, sig) => {
    exited = { code, sig };
  });
  child.on("error", (e) => {
    tail += `\n${argv[0]}: ${e.message}`;
    exited ??= { code: null, sig: null };
  });
  const signal = (sig) => {
    if (exited) return;
    try {
      if (detached) process.kill(-child.pid, sig);
      else child.kill(sig);
    } catch {
      child.kill(sig);
    }
  };
  let stopping = null;
  const stop = () => {
    stopping ??= (async () => {
      if (!exited && child.pid !== undefined) {
        const gone = new Promise((r) => child.once("exit", r));
        signal("SIGTERM");
        const t = setTimeout(() => signal("SIGKILL"), killAfterMs);
        await gone;
        clearTimeout(t);
      }
      if (detached && child.pid !== undefined) {
        await sleep(300);
        try {
          process.kill(-child.pid, "SIGKILL"); // what is left of its group
        } catch {}
      }
      untrack();
      return exited;
    })();
    return stopping;
  };
  const untrack = track({ stop, kill: () => signal("SIGKILL") });

  for (;;) {
    const info = readyFile ? readReadyFile(readyFile) : (await answers200(readyUrl)) ? {} : null;
    if (info) {
      const startupMs = performance.now() - t0;
      return { name, child, pid: child.pid, info, startupMs, stop, stderr: () => tail, exited: () => exited };
    }
    if (exited) {
      untrack();
      throw new Error(`${name} exited (${exited.code ?? exited.sig}) before ready:\n${tail}`);
    }
    if (performance.now() - t0 > timeoutMs) {
      signal("SIGKILL");
      untrack();
      throw new Error(`${name} not ready within ${timeoutMs} ms:\n${tail}`);
    }
    await sleep(pollMs);
  }
}

/**
 * The argv of `tensorbind serve` from a checkout (`root`, default this repository), with the
 * ports (0: any free one), optional metrics port and log level, `extra` flags, and a ready file.
 * Example: tensorbindServe({ models: "examples/quickstart/models.ts", readyFile: f, logLevel: "warn" })
 */
export function tensorbindServe({
  models,
  readyFile,
  root = REPO,
  http = 0,
  grpc = 0,
  metrics,
  logLevel,
  extra = [],
}) {
  return [
    process.execPath,
    join(root, "bin/tensorbind.js"),
    "serve",
    models,
    "--http-port",
    String(http),
    "--grpc-port",
    String(grpc),
    ...(metrics === undefined ? [] : ["--metrics-port", String(metrics)]),
    ...(logLevel ? ["--log-level", logLevel] : []),
    ...extra,
    ...(readyFile ? ["--ready-file", readyFile] : []),
  ];
}
