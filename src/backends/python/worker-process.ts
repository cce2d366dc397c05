import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { ConfigError, InternalError, UnavailableError } from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";
import { ControlChannel } from "./channel.js";
import { DataSocket } from "./data-socket.js";
import { explainPythonFailure, PythonTraceback } from "./diagnose.js";
import { adoptPrewarmed, killOnExit, workerEnv } from "./prewarm.js";
import type {
  BlsMessage,
  BlsResultMessage,
  ConfigureMessage,
  DeclarationJson,
  InferMessage,
  ResponsesMessage,
  ResultMessage,
  WorkerMessage,
} from "./protocol.js";

export interface WorkerSpawnOptions {
  readonly model: string;
  readonly instance: number;
  readonly interpreter: string;
  readonly modulePath: string;
  readonly functionName: string;
  readonly framework: "numpy" | "torch";
  readonly device: string;
  /** The GPU this worker is pinned to (-1: none). */
  readonly gpu: number;
  readonly env: Readonly<Record<string, string>>;
  readonly startupTimeoutMs: number;
  readonly runtimeDir: string;
  readonly log: Logger;
  /** Name prefix of the worker's output segments (the server sweeps it when the worker dies). */
  readonly shmPrefix: string;
  /** Cap on the worker's output arena, in bytes (Infinity: none). */
  readonly shmLimitBytes: number;
  /** The worker dropped empty output segments. */
  readonly onDropped?: (segments: readonly number[]) => void;
  /** A model called another model (BLS); answer with notify({ type: "bls_result", … }). */
  readonly onBls?: (message: BlsMessage) => void;
  /** A decoupled model sent responses. */
  readonly onResponses?: (message: ResponsesMessage) => void;
}

export interface ExitInfo {
  readonly exitCode: number | undefined;
  readonly signal: string | undefined;
  /** Set when the process could not be spawned (e.g. ENOENT for a missing interpreter). */
  readonly spawnError: string | undefined;
}

const STDERR_TAIL = 20;

/** One worker process (one incarnation): spawn, handshake, batches, exit. */
export class WorkerProcess {
  readonly pid: number | undefined;
  readonly exited: Promise<ExitInfo>;
  declaration: DeclarationJson | null = null;
  #exit: ExitInfo | undefined;
  #stopping = false;
  #nextId = 0;
  readonly #pending = new Map<number, { resolve(m: ResultMessage): void; reject(e: Error): void }>();
  readonly #stderr: string[] = [];
  readonly #channel: ControlChannel;
  /** Where request messages go: the data socket, or the control channel in `zeromq` hop mode. */
  readonly #data: ControlChannel | DataSocket;
  readonly #process: ChildProcess;
  readonly #opts: WorkerSpawnOptions;
  #onMessage: (m: WorkerMessage) => void = () => undefined;

  private constructor(opts: WorkerSpawnOptions, channel: ControlChannel, data: DataSocket | undefined) {
    this.#opts = opts;
    this.#channel = channel;
    this.#data = data ?? channel;
    // biome-ignore format: one argument pair per line reads best
    const args = [
      "-m", "tensorbind.worker",
      "--module", isModuleName(opts.modulePath) ? opts.modulePath : resolve(opts.modulePath),
      "--function", opts.functionName,
      "--endpoint", channel.endpoint,
      ...(data === undefined ? [] : ["--data-socket", data.path]),
      "--framework", opts.framework,
      "--device", opts.device,
      "--parent-pid", String(process.pid),
      "--shm-prefix", opts.shmPrefix,
      ...(Number.isFinite(opts.shmLimitBytes) ? ["--shm-limit", String(opts.shmLimitBytes)] : []),
    ];
    const env = workerEnv(opts.env, opts.gpu, opts.instance);
    // node:child_process rather than a wrapper package: its ~80 ms of import came before every
    // first worker's spawn. `tensorbind serve` may have started this interpreter already.
    const prewarmed = adoptPrewarmed(opts.interpreter, args, env);
    this.#process = prewarmed ?? spawn(opts.interpreter, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    this.pid = this.#process.pid;
    if (prewarmed !== undefined)
      opts.log.debug(
        { model: opts.model, pid: this.pid },
        "the worker took over the interpreter started ahead",
      );
    if (this.pid !== undefined) killOnExit(this.#process);
    this.#forward(this.#process.stdout, "stdout");
    this.#forward(this.#process.stderr, "stderr");
    this.exited = new Promise<ExitInfo>((resolveExit) => {
      if (this.pid === undefined) {
        // Not spawned (e.g. ENOENT): 'error' says why.
        this.#process.once("error", (err) =>
          resolveExit({ exitCode: undefined, signal: undefined, spawnError: err.message }),
        );
        return;
      }
      this.#process.on("error", (err) =>
        opts.log.warn({ err, pid: this.pid }, "python worker process error"),
      );
      // 'close': the process has exited and its stderr is read to the end (the tail explains it).
      this.#process.once("close", (code, signal) =>
        resolveExit({ exitCode: code ?? undefined, signal: signal ?? undefined, spawnError: undefined }),
      );
    }).then((exit) => {
      this.#exit = exit;
      this.#failPending(
        this.#stopping ? new UnavailableError(`model '${opts.model}' is stopping`) : this.#died(),
      );
      return exit;
    });
    void channel
      .receive((m) => this.#onMessage(m))
      .catch((err) => opts.log.error({ err }, "control channel failed"));
    data?.receive((m) => this.#onMessage(m));
  }

  /** Spawns a worker; `waitReady()` then waits for its handshake (any failure: a ConfigError with the details). */
  static async spawn(opts: WorkerSpawnOptions): Promise<WorkerProcess> {
    const base = join(opts.runtimeDir, `py-${randomBytes(6).toString("hex")}`);
    const channel = await ControlChannel.bind(`${base}.sock`);
    if (workerHop() === "zeromq") return new WorkerProcess(opts, channel, undefined);
    try {
      return new WorkerProcess(opts, channel, await DataSocket.listen(`${base}.data`));
    } catch (err) {
      await channel.close();
      throw err;
    }
  }

  /** Waits for the worker's handshake; on failure the worker is stopped and the ConfigError thrown. */
  async waitReady(): Promise<void> {
    try {
      await this.#handshake();
    } catch (err) {
      await this.stop(0);
      throw err;
    }
  }

  #handshake(): Promise<void> {
    const { model, startupTimeoutMs, interpreter, modulePath, functionName } = this.#opts;
    const what = `python model '${model}' (${modulePath}:${functionName})`;
    return new Promise<void>((resolveHello, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new ConfigError(`${what}: the worker did not start within ${startupTimeoutMs} ms${this.#tail()}`),
          ),
        startupTimeoutMs,
      );
      this.#onMessage = (m) => {
        if (m.type === "hello") {
          this.declaration = m.declaration;
          this.#onMessage = (msg) => this.#dispatch(msg);
          // The worker connects its data socket before it says hello.
          const connected = this.#data instanceof DataSocket ? this.#data.connected : Promise.resolve();
          void connected.then(() => {
            clearTimeout(timer);
            resolveHello();
          });
        } else if (m.type === "fatal") {
          clearTimeout(timer);
          const why = explainPythonFailure(m.traceback, interpreter) ?? m.error;
          reject(new ConfigError(`${what}: ${why}`, { cause: new PythonTraceback(m.traceback) }));
        }
      };
      void this.exited.then((e) => {
        clearTimeout(timer);
        if (e.spawnError !== undefined) {
          reject(new ConfigError(`${what}: cannot run interpreter '${interpreter}': ${e.spawnError}`));
        } else {
          const why = explainPythonFailure(this.#stderr.join("\n"), interpreter);
          reject(
            new ConfigError(
              `${what}: the worker exited during start-up (${describeExit(e)})${why ? `: ${why}` : ""}`,
              {
                cause: new PythonTraceback(this.#stderr.join("\n")),
              },
            ),
          );
        }
      });
    });
  }

  /** Sends one batch and waits for its results (or the worker's death). */
  run(message: Omit<InferMessage, "type" | "id">): Promise<ResultMessage> {
    if (this.#exit !== undefined || this.#stopping) return Promise.reject(this.#died());
    const id = ++this.#nextId;
    return new Promise<ResultMessage>((resolveResult, reject) => {
      this.#pending.set(id, { resolve: resolveResult, reject });
      this.#data.send({ type: "infer", id, ...message }).catch((err: unknown) => {
        this.#pending.delete(id);
        reject(new InternalError(`cannot reach the python worker: ${String(err)}`));
      });
    });
  }

  /** Fire-and-forget control messages (slot releases, segment confirmations). */
  notify(
    message:
      | { type: "release"; release: readonly (readonly [number, number])[] }
      | { type: "mapped"; names: readonly string[] }
      | { type: "unmap"; segments: readonly number[] }
      | { type: "unmap_shared"; names: readonly string[] }
      | { type: "forget"; keys: readonly string[] }
      | { type: "cancel"; streams: readonly number[] }
      | BlsResultMessage
      | ConfigureMessage,
  ): void {
    if (this.#exit === undefined && !this.#stopping) void this.#data.send(message).catch(() => undefined);
  }

  get alive(): boolean {
    return this.#exit === undefined && !this.#stopping;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; closes the channel and removes its socket file. */
  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    if (this.#exit === undefined) {
      this.#process.kill(graceMs > 0 ? "SIGTERM" : "SIGKILL");
      const timer = setTimeout(() => this.#process.kill("SIGKILL"), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    await this.#channel.close();
    if (this.#data !== this.#channel) await this.#data.close();
  }

  #dispatch(m: WorkerMessage): void {
    if (m.type === "dropped") this.#opts.onDropped?.(m.segments);
    if (m.type === "bls") this.#opts.onBls?.(m);
    if (m.type === "responses") this.#opts.onResponses?.(m);
    if (m.type !== "result") return;
    const pending = this.#pending.get(m.id);
    this.#pending.delete(m.id);
    pending?.resolve(m);
  }

  #failPending(err: Error): void {
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }

  /**
   * The error for requests lost with the worker. Clients get a short message and a reference;
   * the stderr tail (which may hold secrets, other clients' tracebacks, internal paths) goes
   * to the server log only, under that reference.
   */
  #died(): InternalError {
    const { instance, model, log } = this.#opts;
    const how = this.#exit === undefined ? "is not running" : `died (${describeExit(this.#exit)})`;
    const ref = randomBytes(6).toString("hex");
    log.error(
      { model, instance, pid: this.pid, ref, stderr: this.#stderr.slice() },
      `python worker ${instance} of model '${model}' ${how}`,
    );
    return new InternalError(
      `python worker ${instance} of model '${model}' ${how}; details in the server log (ref ${ref})`,
    );
  }

  #tail(): string {
    return this.#stderr.length === 0 ? "" : `; last stderr lines:\n${this.#stderr.join("\n")}`;
  }

  #forward(stream: Readable | null, name: "stdout" | "stderr"): void {
    if (stream === null) return;
    const { log, model, instance } = this.#opts;
    const emit = (text: string) =>
      log[name === "stderr" ? "warn" : "info"](
        { model, instance, stream: name, pid: this.pid },
        `[${model}] ${text}`,
      );
    // A Python traceback is one record, not one per line: its lines are held until the
    // exception line that ends it (or a moment passes).
    let held: string[] = [];
    let timer: NodeJS.Timeout | undefined;
    const flush = () => {
      clearTimeout(timer);
      if (held.length > 0) emit(held.join("\n"));
      held = [];
    };
    createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY })
      .on("line", (line) => {
        if (name === "stderr") {
          this.#stderr.push(line);
          if (this.#stderr.length > STDERR_TAIL) this.#stderr.shift();
        }
        if (held.length === 0 && !TRACEBACK_START.test(line)) return emit(line);
        held.push(line);
        if (held.length > 1 && TRACEBACK_END.test(line)) return flush();
        clearTimeout(timer);
        timer = setTimeout(flush, 200);
      })
      .on("close", flush);
  }
}

// A traceback starts with its header (or a caller's "… failed:" line before it) and ends with the
// exception line: the first unindented line that is not a header or a chaining sentence.
const TRACEBACK_START = /^(Traceback \(most recent call last\):|Exception ignored in|.*failed.*:\s*$)/;
const TRACEBACK_END = /^(?!Traceback |During handling|The above exception|\s)\S.*/;

/**
 * How request messages reach the workers: `socket` (default, a Unix-domain socket per worker) or
 * `zeromq` (the control channel carries them too, as before the data socket; for comparison).
 */
export function workerHop(): "socket" | "zeromq" {
  return process.env.TENSORBIND_WORKER_HOP === "zeromq" ? "zeromq" : "socket";
}

export function describeExit(e: ExitInfo): string {
  if (e.signal !== undefined) return `killed by ${e.signal}`;
  if (e.spawnError !== undefined) return e.spawnError;
  return `exit code ${e.exitCode ?? "unknown"}`;
}

/** A dotted module name (imported from the path), as opposed to a file, as the worker's loader tells them. */
function isModuleName(modulePath: string): boolean {
  return !modulePath.endsWith(".py") && !modulePath.includes("/");
}
