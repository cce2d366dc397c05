import { describe, expect, it } from "vitest";
import { inputArg, outputTargets } from "../../src/backends/native/device-memory.js";
import { planCalls } from "../../src/backends/python/batching.js";
import type { ExecutionRequest } from "../../src/core/backend.js";
import { onRegionUnmapped, tensorOfView } from "../../src/core/shared-memory.js";
import { Tensor } from "../../src/core/tensor.js";
import type { CudaAddon } from "../../src/shm/addon.js";
import { CudaRegions } from "../../src/shm/cuda-regions.js";

// The CUDA runtime is the edge we do not own: a fake device memory stands in for it (the real
// one is exercised on the GPU machine, bench/gpu/shm.sh).
function fakeDevice(allocationBytes: number) {
  const memory = new Uint8Array(allocationBytes);
  const base = 0x7f0000000000n;
  const open = new Set<bigint>();
  const at = (p: bigint) => Number(p - base);
  const addon: CudaAddon = {
    cudaDevices: () => ({ count: 1, reason: "" }),
    cudaOpenIpc: (handle, device) => {
      if (device !== 0 || handle[0] !== 7) throw new Error("cudaIpcOpenMemHandle: invalid argument");
      open.add(base);
      return { pointer: base, bytes: allocationBytes };
    },
    cudaCloseIpc: (p) => {
      open.delete(p);
    },
    cudaCopyToHost: (p, dest) => dest.set(memory.subarray(at(p), at(p) + dest.byteLength)),
    cudaCopyToDevice: (p, src) => memory.set(src, at(p)),
  };
  return { addon, memory, open };
}
const handle = () => Uint8Array.from({ length: 64 }, (_, i) => (i === 0 ? 7 : 0));

describe("CUDA regions", () => {
  it("stages inputs from the device and outputs to it, within the registered span", () => {
    const dev = fakeDevice(256);
    dev.memory.set([1, 2, 3, 4], 16);
    const regions = new CudaRegions(dev.addon, 1, 8);
    regions.register("g", handle(), 0, 128, () => false);
    expect(regions.status()).toEqual([{ name: "g", device_id: 0, byte_size: 128 }]);
    const input = regions.view({ region: "g", offset: 16, byteSize: 4 }, "input 'X'", false)!;
    expect([...input.bytes]).toEqual([1, 2, 3, 4]);
    expect(input.placement).toMatchObject({ kind: "cuda", deviceId: 0, byteSize: 4 });
    const output = regions.view({ region: "g", offset: 64, byteSize: 8 }, "output 'Y'", true)!;
    output.bytes.set([9, 9, 9]);
    output.flush!(3);
    expect([...dev.memory.subarray(64, 68)]).toEqual([9, 9, 9, 0]);
    expect(() => regions.view({ region: "g", offset: 120, byteSize: 16 }, "input 'X'", false)).toThrow(
      /past the end/,
    );
    expect(() => regions.view({ region: "g", offset: 2 ** 53 - 1, byteSize: 2 }, "input 'X'", false)).toThrow(
      /past the end/,
    );
    // Unregistered while in use: closed when the last request lets go.
    regions.unregister("g");
    expect(dev.open.size).toBe(1);
    input.release();
    output.release();
    expect(dev.open.size).toBe(0);
    expect(regions.view({ region: "g", offset: 0, byteSize: 4 }, "input 'X'", false)).toBeUndefined();
  });

  it("refuses bad handles, devices, sizes and names taken", () => {
    const dev = fakeDevice(256);
    const regions = new CudaRegions(dev.addon, 1, 1);
    const bad = (f: () => void, re: RegExp) => expect(f).toThrow(re);
    bad(() => regions.register("a", new Uint8Array(63), 0, 8, () => false), /64 bytes/);
    bad(() => regions.register("a", handle(), 1, 8, () => false), /device 1 does not exist/);
    bad(() => regions.register("a", handle(), -1, 8, () => false), /non-negative/);
    bad(() => regions.register("a", handle(), 0, 0, () => false), /positive/);
    bad(() => regions.register("a", handle(), 0, 512, () => false), /larger than the allocation/);
    bad(() => regions.register("a", new Uint8Array(64), 0, 8, () => false), /Unable to open/);
    bad(() => regions.register("a", handle(), 0, 8, () => true), /already in manager/);
    regions.register("a", handle(), 0, 8, () => false);
    bad(() => regions.register("b", handle(), 0, 8, () => false), /too many/);
    expect(dev.open.size).toBe(1);
    regions.close();
    expect(dev.open.size).toBe(0);
  });
});

describe("CUDA regions, zero copy", () => {
  it("copies nothing until host bytes are read: a model taking device memory gets the pointer", () => {
    const dev = fakeDevice(256);
    let toHost = 0;
    let toDevice = 0;
    const addon: CudaAddon = {
      ...dev.addon,
      cudaCopyToHost: (p, d, n) => {
        toHost++;
        dev.addon.cudaCopyToHost(p, d, n);
      },
      cudaCopyToDevice: (p, s, n) => {
        toDevice++;
        dev.addon.cudaCopyToDevice(p, s, n);
      },
    };
    dev.memory.set([5, 6, 7, 8], 32);
    const regions = new CudaRegions(addon, 1, 8);
    regions.register("g", handle(), 0, 128, () => false);
    const input = regions.view({ region: "g", offset: 32, byteSize: 4 }, "input 'X'", false)!;
    const output = regions.view({ region: "g", offset: 64, byteSize: 4 }, "output 'Y'", true)!;
    const t = tensorOfView("X", "UINT8", [4], input);
    expect(t.deferred).toBe(true);
    expect(t.byteLength).toBe(4);
    expect(t.placement).toMatchObject({
      kind: "cuda",
      deviceId: 0,
      devicePointer: 0x7f0000000020n,
      byteSize: 4,
    });
    expect(inputArg(t, true, 0)).toEqual({ pointer: 0x7f0000000020n, bytes: 4, device: 0 });
    const req = { inputs: { X: t }, requestedOutputs: ["Y"], sharedOutputs: { Y: output } };
    expect(outputTargets(req as never, true, 0)).toEqual({
      Y: { pointer: 0x7f0000000040n, bytes: 4, device: 0 },
    });
    output.flush!(4); // the model wrote the device: nothing staged, nothing sent
    expect(toHost + toDevice).toBe(0);
    // A model that takes host memory, or runs on another device, gets the bytes staged once.
    expect(outputTargets(req as never, true, 1)!.Y).toBeInstanceOf(Uint8Array);
    expect(inputArg(t, false, 0)).toEqual(Uint8Array.from([5, 6, 7, 8]));
    expect(t.deferred).toBe(false);
    expect([...t.bytes]).toEqual([5, 6, 7, 8]);
    expect(toHost).toBe(1);
    input.release();
    output.release();
    const late = regions.view({ region: "g", offset: 32, byteSize: 4 }, "input 'X'", false)!;
    late.release();
    expect(() => late.load!()).toThrow(/released/);
  });

  it("keeps BYTES tensors on the host path (their elements are parsed there)", () => {
    const placement = {
      kind: "cuda" as const,
      deviceId: 0,
      devicePointer: 0x1000n,
      byteSize: 8,
      ipcHandle: Buffer.from(handle()).toString("base64"),
      ipcKey: "cuda-ipc/g/1",
      offset: 0,
    };
    const t = Tensor.deferred(
      "S",
      "BYTES",
      [1],
      8,
      () => Uint8Array.from([4, 0, 0, 0, 97, 98, 99, 100]),
      placement,
    );
    expect(inputArg(t, true, 0)).toBeInstanceOf(Uint8Array);
    const renamed = Tensor.deferred("F", "FP32", [2], 8, () => new Uint8Array(8), placement).rename("G");
    expect(renamed.deferred).toBe(true);
    expect(renamed.byteLength).toBe(8);
  });
});

describe("CUDA regions and Python workers", () => {
  it("hands a torch worker on the region's GPU the IPC handle, stages for any other worker", () => {
    const dev = fakeDevice(256);
    const regions = new CudaRegions(dev.addon, 1, 8);
    regions.register("g", handle(), 0, 128, () => false);
    const input = regions.view({ region: "g", offset: 32, byteSize: 8 }, "input 'X'", false)!;
    const request = {
      inputs: { X: tensorOfView("X", "FP32", [2], input) },
      requestedOutputs: [],
      parameters: {},
    } as unknown as ExecutionRequest;
    const onGpu0 = planCalls([request], 0, false, 0).calls[0]!;
    expect(onGpu0.columns).toEqual([]);
    expect(onGpu0.external).toEqual([
      {
        name: "X",
        datatype: "FP32",
        shape: [2],
        key: "cuda-ipc/g/1",
        offset: 32,
        byteSize: 8,
        cuda: { handle: Buffer.from(handle()).toString("base64") },
      },
    ]);
    expect(input.placement).toBeDefined();
    for (const other of [1, undefined]) {
      const staged = planCalls([request], 0, false, other).calls[0]!;
      expect(staged.external).toBeUndefined();
      expect(staged.columns.map((c) => c.name)).toEqual(["X"]);
    }
    input.release();
  });

  it("tells the workers to close their opening when the region goes", () => {
    const dev = fakeDevice(64);
    const regions = new CudaRegions(dev.addon, 1, 8);
    const heard: string[] = [];
    const stop = onRegionUnmapped((key) => heard.push(key));
    try {
      regions.register("g", handle(), 0, 64, () => false);
      regions.unregister("g");
      regions.register("g", handle(), 0, 64, () => false); // a new registration: a new key
      regions.close();
    } finally {
      stop();
    }
    expect(heard).toEqual(["cuda-ipc/g/1", "cuda-ipc/g/2"]);
  });
});
