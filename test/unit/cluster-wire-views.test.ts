import { describe, expect, it } from "vitest";
import { rememberViewHandle } from "../../src/cluster/view-handles.js";
import { packRequest } from "../../src/cluster/wire.js";
import type { SharedPlacement } from "../../src/core/shared-placement.js";
import { Tensor } from "../../src/core/tensor.js";

// A frontend thread's request names the engine's view of a client's region; packing it must not
// read the tensor's bytes, which would fetch the region from the engine (a CUDA region from the
// device, on the engine's thread) for every request. It did, for every region input, until
// 2026-12-07: P7 with CUDA shared memory stayed at ~180 events/s whatever the instances.

const placements: SharedPlacement[] = [
  { kind: "system", key: "/client_region", offset: 64, byteSize: 4096 },
  {
    kind: "cuda",
    deviceId: 0,
    devicePointer: 0x7f00_0000_0000n,
    byteSize: 4096,
    ipcHandle: "AAAA",
    ipcKey: "cuda-ipc/r/1",
    offset: 0,
  },
];

describe("packing a request whose inputs lie in a client's region", () => {
  it.each(placements.map((p) => [p.kind, p] as const))(
    "%s region: sends the view, fetches no bytes",
    (_, placement) => {
      let fetched = 0;
      rememberViewHandle(placement, 7);
      const input = Tensor.deferred(
        "INPUT0",
        "FP32",
        [1024],
        4096,
        () => {
          fetched++;
          return new Uint8Array(4096);
        },
        placement,
      );
      const inBody = new Tensor("INPUT1", "FP32", [2], new Uint8Array(8));
      const transfer: ArrayBuffer[] = [];
      const wire = packRequest({ model: "m", parameters: {}, inputs: [input, inBody] }, transfer);
      expect(fetched).toBe(0);
      expect(input.deferred).toBe(true);
      expect(wire.inputs[0]).toMatchObject({ name: "INPUT0", view: 7, length: 4096 });
      expect(wire.inputs[0]).not.toHaveProperty("buffer");
      expect(wire.inputs[1]).toMatchObject({ name: "INPUT1", length: 8 });
    },
  );
});
