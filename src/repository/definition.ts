import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pipeline } from "../backends/pipeline/index.js";
import { python } from "../backends/python/index.js";
import { BACKEND_FACTORY, type Backend, type BackendFactory } from "../core/backend.js";
import { ConfigError } from "../core/errors.js";
import type { BindOptions } from "../model/model.js";
import { stepsOf } from "./ensemble-steps.js";
import {
  backendOf,
  completeConfig,
  defaultModelFile,
  instancePlacement,
  isDecoupled,
  parameterOf,
  type RepositoryBackend,
  schedulingOf,
  tensorSpecsOf,
} from "./model-config.js";
import { type JsonObject, parseModelConfigText } from "./pbtxt.js";
import { executionEnvironment, type PythonEnvironment } from "./python-env.js";
import { selectVersions, versionDirectories } from "./versions.js";

/** A model directory of a repository, read: its completed config and what each version binds. */
export interface ModelDefinition {
  readonly name: string;
  readonly dir: string;
  readonly backend: RepositoryBackend | "native";
  readonly config: JsonObject;
  /** Models this one calls (an ensemble's steps). */
  readonly dependencies: readonly string[];
  readonly versions: readonly BindOptions[];
}

export interface DefinitionContext {
  /** The interpreter for Python-backend, TorchScript and ONNX workers (a model's EXECUTION_ENV_PATH wins). */
  readonly interpreter: string | undefined;
}

/**
 * Reads `dir/config.pbtxt` (or `configOverride`, Triton's load-time JSON config) and builds the
 * bind() options of every version its version policy serves. Throws ConfigError naming the file
 * (and line, for syntax errors).
 */
export async function readDefinition(
  name: string,
  dir: string,
  ctx: DefinitionContext,
  configOverride?: string,
): Promise<ModelDefinition> {
  const file = join(dir, "config.pbtxt");
  let raw: JsonObject;
  if (configOverride !== undefined) {
    try {
      raw = JSON.parse(configOverride) as JsonObject;
    } catch (err) {
      throw new ConfigError(`model '${name}': the config override is not JSON: ${(err as Error).message}`);
    }
  } else if (existsSync(file)) {
    raw = parseModelConfigText(readFileSync(file, "utf8"), file);
  } else {
    throw new ConfigError(
      `${file}: no such file (a repository model needs a config.pbtxt, or a model.ts / model.js / model.py of tensorbind's)`,
    );
  }
  const present = versionDirectories(dir);
  const hasFile = (f: string) => present.some((v) => existsSync(join(dir, String(v), f)));
  const backend = backendOf(raw, file, hasFile);
  const config = completeConfig(raw, name, backend, file);
  if (isDecoupled(config) && backend !== "python")
    throw new ConfigError(
      `${file}: decoupled models (model_transaction_policy { decoupled: true }) are served for the python backend only`,
    );
  const versions = selectVersions(present, config, file);
  const inputs = tensorSpecsOf(config, "input", file);
  const outputs = tensorSpecsOf(config, "output", file);
  // Left out when the config does not say: a Python model's auto_complete_config may declare it.
  const maxBatchSize = config.max_batch_size as number | undefined;
  const placement = instancePlacement(config);
  const scheduling = backend === "ensemble" ? {} : schedulingOf(config);
  const steps = backend === "ensemble" ? stepsOf(config, file) : [];
  if (backend === "ensemble" && (!inputs || !outputs))
    throw new ConfigError(`${file}: an ensemble must declare its input and output tensors`);
  const given = backend === "ensemble" ? undefined : parameterOf(config, "EXECUTION_ENV_PATH");
  const own = given === undefined || given === "" ? undefined : await executionEnvironment(given, dir, file);
  const bindOptions = versions.map((version): BindOptions => {
    const fn =
      backend === "ensemble"
        ? pipeline(steps, { label: "ensemble" })
        : workerFactory(name, dir, version, backend, config, placement, ctx, own);
    return {
      name,
      version,
      fn,
      ...(inputs && { inputs }),
      ...(outputs && { outputs }),
      ...(maxBatchSize !== undefined && { maxBatchSize }),
      ...scheduling,
      modelConfig: config,
    };
  });
  return {
    name,
    dir,
    backend,
    config,
    dependencies: [...new Set(steps.map((s) => s.model))],
    versions: bindOptions,
  };
}

/** A Python worker pool running tensorbind.triton.runner for this model version. */
function workerFactory(
  name: string,
  dir: string,
  version: number,
  backend: Exclude<RepositoryBackend, "ensemble">,
  config: JsonObject,
  placement: number[],
  ctx: DefinitionContext,
  own: PythonEnvironment | undefined,
): BackendFactory {
  const filename = defaultModelFile(backend, config)!;
  const modelFile = join(dir, String(version), filename);
  if (!existsSync(modelFile))
    throw new ConfigError(`model '${name}' version ${version}: ${modelFile} does not exist`);
  const interpreter = own?.interpreter ?? ctx.interpreter;
  // One KIND_GPU group is python()'s own { count, gpus }: each worker pinned to its GPU
  // (CUDA_VISIBLE_DEVICES). Several groups: the runner places each worker on its cuda:N itself.
  const groups = (config.instance_group as JsonObject[] | undefined) ?? [];
  const oneGpuGroup = groups.length === 1 && groups[0]!.kind === "KIND_GPU";
  const gpuList = (groups[0]?.gpus as number[] | undefined)?.length ? (groups[0]!.gpus as number[]) : [0];
  const instances = oneGpuGroup
    ? { count: placement.length / gpuList.length, gpus: gpuList }
    : placement.length;
  const inner = python("tensorbind.triton.runner", "execute", {
    instances,
    ...(interpreter !== undefined && { interpreter }),
    env: {
      ...own?.env,
      TENSORBIND_TRITON: JSON.stringify({
        kind: backend,
        modelFile,
        config,
        repository: dir,
        version,
        gpus: placement,
      }),
    },
  });
  const gpus = !oneGpuGroup && placement.some((g) => g >= 0) ? placement : undefined;
  return {
    [BACKEND_FACTORY]: true,
    kind: "python",
    create: () => withGpus(inner.create(), gpus),
  };
}

/** The backend with the instance placement of the config's instance_group (for /config and metrics). */
function withGpus(backend: Backend, gpus: readonly number[] | undefined): Backend {
  if (gpus === undefined) return backend;
  return {
    kind: backend.kind,
    instances: backend.instances,
    gpus,
    start: (ctx) => backend.start(ctx),
    ...(backend.configure && { configure: (spec) => backend.configure!(spec) }),
    execute: (batch, instance) => backend.execute(batch, instance),
    stop: () => backend.stop(),
    ...(backend.stats && { stats: () => backend.stats!() }),
  };
}
