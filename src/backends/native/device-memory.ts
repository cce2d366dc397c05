import type { ExecutionRequest, SharedOutput } from "../../core/backend.js";
import type { Datatype } from "../../core/datatypes.js";
import { InternalError } from "../../core/errors.js";
import type { SharedPlacement } from "../../core/shared-placement.js";
import { Tensor } from "../../core/tensor.js";

/** Device memory as the addon takes it (tensorbind/addon.h `DeviceMemory`). */
export interface DeviceMemory {
  readonly pointer: bigint;
  readonly bytes: number;
  readonly device: number;
}

type CudaPlacement = Extract<SharedPlacement, { kind: "cuda" }>;

/**
 * The device memory of a client's CUDA region, when the model can take it in place: it declared
 * device_memory(), the instance runs on the region's device, and the tensor is fixed-size
 * (BYTES elements are parsed on the host). Otherwise undefined: the bytes go through the host.
 */
function onDevice(placement: SharedPlacement | undefined, datatype: Datatype, gpu: number | undefined) {
  if (placement?.kind !== "cuda" || datatype === "BYTES" || gpu !== placement.deviceId) return undefined;
  return placement;
}

const deviceMemory = (p: CudaPlacement, bytes: number): DeviceMemory => ({
  pointer: p.devicePointer,
  bytes,
  device: p.deviceId,
});

/** An input as the addon's run() takes it: its bytes, or the device memory it still sits in. */
export function inputArg(
  t: Tensor,
  takesDevice: boolean,
  gpu: number | undefined,
): Uint8Array | DeviceMemory {
  const p = takesDevice && t.deferred ? onDevice(t.placement, t.datatype, gpu) : undefined;
  return p === undefined ? t.bytes : deviceMemory(p, t.byteLength);
}

/** The clients' regions named for outputs, for the model to write into (host or device memory). */
export function outputTargets(
  req: ExecutionRequest,
  takesDevice: boolean,
  gpu: number | undefined,
): Record<string, Uint8Array | DeviceMemory> | undefined {
  if (req.sharedOutputs === undefined) return undefined;
  const out: Record<string, Uint8Array | DeviceMemory> = {};
  for (const [name, s] of Object.entries(req.sharedOutputs)) {
    const p =
      takesDevice && s.placement.kind === "cuda" && gpu === s.placement.deviceId ? s.placement : undefined;
    out[name] = p === undefined ? s.bytes : deviceMemory(p, p.byteSize);
  }
  return out;
}

/**
 * An output the model wrote into a client's CUDA region: a tensor whose bytes stay there (the
 * engine sees the region's pointer and neither copies nor flushes). Reading its bytes on the
 * host is a bug: nothing on this path needs them.
 */
export function outputOnDevice(
  model: string,
  name: string,
  datatype: Datatype,
  shape: readonly number[],
  size: number,
  target: SharedOutput,
): Tensor {
  return Tensor.deferred(
    name,
    datatype,
    shape,
    size,
    () => {
      throw new InternalError(`native model '${model}': output '${name}' is in device memory`);
    },
    target.placement,
  );
}

export function isDeviceMemory(v: Uint8Array | DeviceMemory): v is DeviceMemory {
  return !(v instanceof Uint8Array);
}
