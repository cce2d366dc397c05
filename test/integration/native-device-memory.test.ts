import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { datatypeCode, loadNativeAddon, NativeErrorKind } from "../../src/backends/native/addon.js";

// The addon's half of device pointers (tensorbind/addon.h): a model that declares
// device_memory() says so to the server, and run() takes { pointer, bytes, device } for an input
// in a client's CUDA region. No GPU here: the fixture reports where its input lives without
// reading it (bench/gpu/traccc.sh --shared-memory cuda runs the real thing on the H100).
const FIXTURES = "test/fixtures/native/build/Release/fixtures.node";
const FP32 = datatypeCode("FP32");

describe("native models and device memory", () => {
  it("declares device_memory() only for models that opt in", () => {
    expect(existsSync(FIXTURES), "run `npm run build:native-models`").toBe(true);
    const api = loadNativeAddon(FIXTURES);
    expect(api.models.where?.deviceMemory).toBe(true);
    expect(api.models.slow?.deviceMemory).toBeUndefined();
  });

  it("hands a device input over as a pointer with its device, and refuses misaligned ones", async () => {
    const api = loadNativeAddon(FIXTURES);
    const inst = new api.Instance("where", 0, -1);
    await inst.start();
    try {
      const onDevice = { pointer: 0x7f0000001000n, bytes: 16, device: 3 };
      const [[name, , shape, data]] = (await inst.run(["X"], [FP32], [[4]], [onDevice], ["WHERE"])) as [
        [string, number, number[], ArrayBuffer],
      ];
      expect(name).toBe("WHERE");
      expect(shape).toEqual([3]);
      expect([...new Int32Array(data)]).toEqual([1, 3, 4]);
      const [host] = await inst.run(["X"], [FP32], [[2]], [new Uint8Array(8)], ["WHERE"]);
      expect([...new Int32Array(host![3] as ArrayBuffer)]).toEqual([0, -1, 2]);
      const misaligned = { pointer: 0x7f0000001002n, bytes: 4, device: 0 };
      await expect(inst.run(["X"], [FP32], [[1]], [misaligned], ["WHERE"])).rejects.toMatchObject({
        kind: NativeErrorKind.InvalidArgument,
        message: expect.stringMatching(/not a multiple of its element size/),
      });
      expect(() => inst.run(["X"], [FP32], [[1]], [{ pointer: 1 } as never], ["WHERE"])).toThrow(
        /pointer \(bigint\)/,
      );
    } finally {
      await inst.stop();
    }
  });
});
