import { describe, expect, it } from "vitest";
import { shm } from "../../src/backends/shm-addon.js";
import { borrow, makeLender } from "../../src/cluster/lend.js";
import { lends, packResponse, unpackResponse, type WireRequest } from "../../src/cluster/wire.js";
import type { InferResponse } from "../../src/core/infer.js";
import { Tensor } from "../../src/core/tensor.js";

// Outputs handed to a frontend thread by address: the borrowed view is the engine's memory itself
// (no copy); shared-memory mappings, small outputs and the request's own buffers are not lent.

const lender = makeLender()!;

function response(outputs: Tensor[]): InferResponse {
  return { model: "m", version: "1", parameters: {}, outputs };
}
const noInputs: WireRequest = { model: "m", parameters: {}, inputs: [] };

describe("lending outputs by address", () => {
  it("borrows the very memory the output lies in", () => {
    const bytes = new Uint8Array(1 << 20).fill(3);
    const view = bytes.subarray(4096, 8192);
    const address = lender(view)!;
    expect(address).toBe(shm().address(bytes.buffer) + 4096);
    const borrowed = borrow(address, view.byteLength);
    borrowed[0] = 42; // a write through the borrowed view shows in the original: same memory
    expect(bytes[4096]).toBe(42);
    expect(borrowed.every((v, i) => v === view[i])).toBe(true);
  });

  it("does not lend a shared-memory mapping (an arena can be unmapped under the reader)", () => {
    const seg = shm().create(1 << 16);
    try {
      expect(lender(new Uint8Array(seg.buffer))).toBeUndefined();
    } finally {
      shm().unlink(seg.name);
      shm().unmap(seg.buffer);
    }
  });

  it("lends large outputs, copies small ones, moves the request's own buffers back", () => {
    const large = new Uint8Array(256 << 10).fill(7);
    const small = new Uint8Array(100).fill(9);
    const body = new ArrayBuffer(128 << 10);
    const req: WireRequest = {
      model: "m",
      parameters: {},
      inputs: [
        {
          name: "X",
          datatype: "UINT8",
          shape: [body.byteLength],
          buffer: body,
          offset: 0,
          length: body.byteLength,
        },
      ],
    };
    const res = response([
      new Tensor("L", "UINT8", [large.length], large),
      new Tensor("S", "UINT8", [small.length], small),
      new Tensor("F", "UINT8", [body.byteLength], new Uint8Array(body)),
    ]);
    const transfer: ArrayBuffer[] = [];
    const w = packResponse(res, req, transfer, lender);
    expect(lends(w)).toBe(true);
    const [l, s, f] = w.outputs;
    expect(l!.address).toBe(shm().address(large.buffer));
    expect(l!.buffer).toBeUndefined();
    expect(s!.address).toBeUndefined();
    expect(f!.buffer).toBe(body);
    expect(transfer).toContain(body);
    const back = unpackResponse(w);
    expect(Buffer.compare(Buffer.from(back.outputs[0]!.bytes), Buffer.from(large))).toBe(0);
    expect(Buffer.compare(Buffer.from(back.outputs[1]!.bytes), Buffer.from(small))).toBe(0);
  });

  it("copies everything without a lender", () => {
    const large = new Uint8Array(256 << 10).fill(7);
    const w = packResponse(response([new Tensor("L", "UINT8", [large.length], large)]), noInputs, []);
    expect(lends(w)).toBe(false);
    expect(w.outputs[0]!.buffer).not.toBe(large.buffer);
  });
});
