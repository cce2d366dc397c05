import { existsSync } from "node:fs";
import { ConfigError } from "../../core/errors.js";

/** Options of `python(modulePath, functionName, options)`. */
export interface PythonOptions {
  /** Worker processes (one batch at a time each). Default 1. */
  instances?: number;
  /** Python interpreter; default: env TENSORBIND_PYTHON, else `python3`. */
  interpreter?: string;
  /** How inputs reach the function: NumPy arrays (default) or torch tensors (through DLPack-free zero-copy views). */
  framework?: "numpy" | "torch";
  /** With framework 'torch': the device inputs are moved to ("cuda:0"); outputs come back to the CPU. */
  device?: string;
  /** How long a worker may take to import the module and say hello. Default 60 s (torch imports are slow). */
  startupTimeoutMs?: number;
  /** How long stop() waits after SIGTERM before SIGKILL. Default 5 s. */
  stopGraceMs?: number;
  /** Extra environment for the workers (added to the server's). */
  env?: Record<string, string>;
  /**
   * Cap, in bytes, on each shared-memory arena of this model: the input arena its workers share
   * and each worker's output arena. A request that does not fit gets 503 / RESOURCE_EXHAUSTED.
   * Default: none (the server-wide `shmLimit` still applies).
   */
  shmLimit?: number;
}

export interface ResolvedPythonOptions {
  readonly modulePath: string;
  readonly functionName: string;
  readonly instances: number;
  readonly interpreter: string;
  readonly framework: "numpy" | "torch";
  readonly device: string;
  readonly startupTimeoutMs: number;
  readonly stopGraceMs: number;
  readonly env: Readonly<Record<string, string>>;
  readonly shmLimitBytes: number;
}

export function resolvePythonOptions(
  modulePath: string,
  functionName: string,
  o: PythonOptions,
): ResolvedPythonOptions {
  if (typeof modulePath !== "string" || modulePath === "")
    throw new ConfigError("python(): modulePath must be a path");
  if (typeof functionName !== "string" || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(functionName)) {
    throw new ConfigError(`python(): '${String(functionName)}' is not a Python function name`);
  }
  if ((modulePath.endsWith(".py") || modulePath.includes("/")) && !existsSync(modulePath)) {
    throw new ConfigError(`python(): module file ${modulePath} does not exist`);
  }
  const instances = o.instances ?? 1;
  if (!Number.isInteger(instances) || instances < 1)
    throw new ConfigError("python(): instances must be a positive integer");
  const framework = o.framework ?? "numpy";
  if (framework !== "numpy" && framework !== "torch")
    throw new ConfigError(`python(): unknown framework '${String(framework)}'`);
  const device = o.device ?? "cpu";
  if (device !== "cpu" && framework !== "torch")
    throw new ConfigError("python(): device needs framework: 'torch'");
  const shmLimit = o.shmLimit ?? Number.POSITIVE_INFINITY;
  if (!(shmLimit > 0)) throw new ConfigError("python(): shmLimit must be a positive number of bytes");
  return {
    modulePath,
    functionName,
    instances,
    interpreter: o.interpreter ?? process.env.TENSORBIND_PYTHON ?? "python3",
    framework,
    device,
    startupTimeoutMs: o.startupTimeoutMs ?? 60_000,
    stopGraceMs: o.stopGraceMs ?? 5_000,
    env: o.env ?? {},
    shmLimitBytes: shmLimit,
  };
}
