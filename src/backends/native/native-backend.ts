import type {
  Backend,
  BackendStartContext,
  ExecutionRequest,
  ExecutionResult,
  ModelDeclaration,
  RequestBuffer,
} from "../../core/backend.js";
import { DATATYPES } from "../../core/datatypes.js";
import {
  ConfigError,
  InternalError,
  InvalidArgumentError,
  type TensorbindError,
  UnavailableError,
} from "../../core/errors.js";
import type { InstanceGroup } from "../../core/instance-groups.js";
import { attachRelease } from "../../core/release.js";
import { formatShape } from "../../core/shape.js";
import type { ModelSpec, TensorSpecs } from "../../core/spec.js";
import { Tensor } from "../../core/tensor.js";
import { declaredSpecs } from "../declared-specs.js";
import { RequestBufferPool } from "../request-buffer.js";
import {
  datatypeCode,
  datatypeOfCode,
  loadNativeAddon,
  type NativeError,
  NativeErrorKind,
  type NativeInstance,
  type NativeModelDecl,
  type NativeOutput,
  type NativePoolStats,
} from "./addon.js";
import {
  type DeviceMemory,
  inputArg,
  isDeviceMemory,
  outputOnDevice,
  outputTargets,
} from "./device-memory.js";
import type { ResolvedNativeOptions } from "./options.js";

/**
 * Runs a model function of a native addon. Each instance is a worker thread inside the addon,
 * so the JavaScript thread keeps serving while native code runs; the scheduler gives an
 * instance one batch at a time.
 */
export class NativeBackend implements Backend {
  readonly kind = "native" as const;
  readonly instances: number;
  readonly gpus: readonly number[];
  readonly instanceGroups: readonly InstanceGroup[] | undefined;
  readonly #opts: ResolvedNativeOptions;
  #pool: NativeInstance[] = [];
  #declared: ModelDeclaration | undefined;
  /** The model declared device_memory(): clients' CUDA regions reach it as device pointers. */
  #takesDevice = false;
  #model = "";
  readonly #bodies = new RequestBufferPool();

  constructor(opts: ResolvedNativeOptions) {
    this.#opts = opts;
    this.instances = opts.gpus.length;
    this.gpus = opts.gpus;
    this.instanceGroups = opts.groups;
  }

  async start(ctx: BackendStartContext): Promise<ModelDeclaration | undefined> {
    const { addonPath, functionName, gpus } = this.#opts;
    this.#model = ctx.model;
    const api = loadNativeAddon(addonPath);
    const decl = api.models[functionName];
    if (decl === undefined) {
      const names = Object.keys(api.models);
      throw new ConfigError(
        `native(): ${addonPath} has no model function '${functionName}'` +
          (names.length > 0 ? `; it declares: ${names.join(", ")}` : "; it declares none"),
      );
    }
    this.#declared = toDeclaration(decl, ctx.model);
    this.#takesDevice = decl.deviceMemory === true;
    this.#pool = gpus.map((gpu, i) => new api.Instance(functionName, i, gpu));
    const started = await Promise.allSettled(this.#pool.map((p) => p.start()));
    const failed = started.findIndex((s) => s.status === "rejected");
    if (failed >= 0) {
      await this.stop();
      const reason = (started[failed] as PromiseRejectedResult).reason as Error;
      const where = gpus[failed]! >= 0 ? ` (GPU ${gpus[failed]})` : "";
      throw new ConfigError(
        `native model '${ctx.model}': instance ${failed}${where} failed to start: ${reason.message}`,
        { cause: reason },
      );
    }
    ctx.log.info(
      { model: ctx.model, addon: addonPath, fn: functionName, cuda: api.cuda, gpus },
      "native model loaded",
    );
    return this.#declared;
  }

  /** bind()'s specs, when given, must agree with what the addon declares. */
  configure(spec: ModelSpec): void {
    const d = this.#declared;
    if (d === undefined) return;
    const problems = [
      ...(d.inputs ? disagreements("input", spec.inputs, d.inputs) : []),
      ...(d.outputs ? disagreements("output", spec.outputs, d.outputs) : []),
    ];
    if (problems.length > 0) {
      throw new ConfigError(
        `model '${spec.name}': bind() disagrees with the native addon: ${problems.join("; ")}`,
      );
    }
  }

  /** Request bodies in reused, 64-byte aligned buffers: the model gets a pointer into them. */
  allocateRequest(byteLength: number, alignAt: number): RequestBuffer {
    return this.#bodies.take(byteLength, alignAt);
  }

  execute(batch: readonly ExecutionRequest[], instance: number): Promise<(ExecutionResult | Error)[]> {
    const inst = this.#pool[instance];
    if (inst === undefined) return Promise.reject(new RangeError(`no instance ${instance}`));
    const gpu = this.gpus[instance];
    return Promise.all(
      batch.map((req) => this.#run(inst, req, gpu).catch((err: unknown) => toRequestError(err))),
    );
  }

  async #run(inst: NativeInstance, req: ExecutionRequest, gpu: number | undefined): Promise<ExecutionResult> {
    const inputs = Object.values(req.inputs);
    const names: string[] = [];
    const codes: number[] = [];
    const shapes: (readonly number[])[] = [];
    const datas: (Uint8Array | DeviceMemory)[] = [];
    for (const t of inputs) {
      names.push(t.name);
      codes.push(datatypeCode(t.datatype));
      shapes.push(t.shape);
      datas.push(inputArg(t, this.#takesDevice, gpu));
    }
    const held = datas.map((d) => (isDeviceMemory(d) ? () => {} : this.#bodies.hold(d)));
    try {
      const targets = outputTargets(req, this.#takesDevice, gpu);
      const outputs =
        targets === undefined
          ? await inst.run(names, codes, shapes, datas, req.requestedOutputs)
          : await inst.run(names, codes, shapes, datas, req.requestedOutputs, targets);
      const release = leaseRelease(inst, outputs);
      try {
        const result = this.#toResult(outputs, inputs, targets, req);
        if (release !== undefined) attachRelease(result, release);
        return result;
      } catch (err) {
        release?.();
        throw err;
      }
    } finally {
      for (const unhold of held) unhold();
    }
  }

  #toResult(
    outputs: NativeOutput[],
    inputs: Tensor[],
    targets: Readonly<Record<string, Uint8Array | DeviceMemory>> | undefined,
    req: ExecutionRequest,
  ): ExecutionResult {
    const result: ExecutionResult = {};
    for (const [name, code, shape, data] of outputs) {
      const datatype = datatypeOfCode(code);
      if (datatype === undefined)
        throw new InternalError(`native model '${this.#model}': bad output datatype`);
      if (typeof data === "number") {
        const input = inputs[data];
        if (input === undefined)
          throw new InternalError(`native model '${this.#model}': bad forwarded input`);
        // Not a view of the input's region: the engine copies it into the output's if asked.
        result[name] = input.deferred
          ? Tensor.deferred(name, datatype, shape, input.byteLength, () => input.bytes)
          : new Tensor(name, datatype, shape, input.bytes);
      } else if (data === "target") {
        // Written by the model into the client's region: a view of it (the engine copies nothing).
        const target = targets?.[name];
        const size = DATATYPES[datatype].size * shape.reduce((a, b) => a * b, 1);
        const capacity =
          target === undefined ? -1 : isDeviceMemory(target) ? target.bytes : target.byteLength;
        if (target === undefined || size > capacity)
          throw new InternalError(`native model '${this.#model}': output '${name}' outside its region`);
        result[name] = isDeviceMemory(target)
          ? outputOnDevice(this.#model, name, datatype, shape, size, req.sharedOutputs![name]!)
          : new Tensor(name, datatype, shape, target.subarray(0, size));
      } else {
        result[name] = new Tensor(name, datatype, shape, new Uint8Array(data));
      }
    }
    return result;
  }

  /** Each instance's output pool (undefined for addons built with older headers). */
  poolStats(): (NativePoolStats | undefined)[] {
    return this.#pool.map((p) => p.poolStats?.());
  }

  async stop(): Promise<void> {
    this.#bodies.clear();
    const pool = this.#pool;
    await Promise.allSettled(pool.map((p) => p.stop()));
  }
}

/**
 * Outputs lent from the instance's pool go back when the frontend has written the response
 * (InferResponse.release), not when the collector gets to their buffers: the next request
 * reuses the memory instead of faulting in fresh pages.
 */
function leaseRelease(inst: NativeInstance, outputs: NativeOutput[]): (() => void) | undefined {
  const leases: number[] = [];
  const lent: ArrayBuffer[] = [];
  for (const o of outputs) {
    if (o[4] === undefined) continue;
    leases.push(o[4]);
    if (o[3] instanceof ArrayBuffer) lent.push(o[3]);
  }
  if (leases.length === 0 || inst.release === undefined) return undefined;
  return () => {
    inst.release!(leases);
    for (const buffer of lent) detach(buffer);
  };
}

/**
 * Detaches a pooled output's ArrayBuffer once its block is back in the pool. Its memory serves
 * the next request, so no view may read it any more; and V8 counts every live ArrayBuffer's
 * bytes towards its next full collection, so a 64 MiB output left to the collector cost a major
 * GC every few requests (most of the server's user CPU for a 64 MiB native copy model;
 * docs/PERFORMANCE.md, P10). Detaching takes the bytes off V8's count at once.
 */
function detach(buffer: ArrayBuffer): void {
  const transfer = (buffer as ArrayBuffer & { transfer?: (length: number) => ArrayBuffer }).transfer;
  try {
    transfer?.call(buffer, 0); // ES2024; zero length: nothing is copied
  } catch {
    // not detachable here: the collector frees it as before
  }
}

function toRequestError(err: unknown): TensorbindError {
  const e = err as NativeError;
  const message = e instanceof Error ? e.message : String(err);
  switch (e?.kind) {
    case NativeErrorKind.InvalidArgument:
      return new InvalidArgumentError(message);
    case NativeErrorKind.Unavailable:
      return new UnavailableError(message);
    default:
      return new InternalError(message, { cause: err });
  }
}

function toDeclaration(decl: NativeModelDecl, model: string): ModelDeclaration {
  const inputs = declaredSpecs(`native model '${model}'`, "input", decl.inputs);
  const outputs = declaredSpecs(`native model '${model}'`, "output", decl.outputs);
  return {
    ...(inputs !== undefined && { inputs }),
    ...(outputs !== undefined && { outputs }),
    ...(decl.maxBatchSize !== undefined && { maxBatchSize: decl.maxBatchSize }),
  };
}

/**
 * Same names; same datatypes; same rank; every dimension the addon fixes is fixed alike in
 * bind() (bind() may fix a dimension the addon leaves open); same optionality.
 */
function disagreements(kind: string, given: TensorSpecs, declared: TensorSpecs): string[] {
  const problems: string[] = [];
  for (const [name, d] of Object.entries(declared)) {
    const g = given[name];
    if (g === undefined) {
      problems.push(`bind() lacks ${kind} '${name}' (${d.datatype} ${formatShape(d.shape)})`);
      continue;
    }
    if (g.datatype !== d.datatype)
      problems.push(`${kind} '${name}' is ${g.datatype} in bind() but ${d.datatype} in the addon`);
    const dimsAgree =
      g.shape.length === d.shape.length && d.shape.every((dim, i) => dim === -1 || dim === g.shape[i]);
    if (!dimsAgree)
      problems.push(
        `${kind} '${name}' has shape ${formatShape(g.shape)} in bind() but ${formatShape(d.shape)} in the addon`,
      );
    if (g.optional !== d.optional)
      problems.push(
        `${kind} '${name}' is ${g.optional ? "" : "not "}optional in bind() but the addon says otherwise`,
      );
  }
  for (const name of Object.keys(given)) {
    if (!(name in declared)) problems.push(`bind() has ${kind} '${name}', which the addon does not declare`);
  }
  return problems;
}
