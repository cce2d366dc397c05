import { describe, expect, it } from "vitest";
import { decodeInferRequest } from "../../src/frontends/grpc/codec.js";
import { loadProtos } from "../../src/frontends/grpc/load.js";
import type { ModelInferRequestMsg } from "../../src/frontends/grpc/messages.js";

// The gRPC half of the copy budget: raw_input_contents stay slices of the message grpc-js
// received, and the request's tensors view them: no copy between the message and the tensors.

describe("gRPC ModelInferRequest decoding", () => {
  it("gives tensors that are views of the received message's buffer", () => {
    const { ModelInfer } = loadProtos().inference as unknown as Record<
      string,
      { requestSerialize(m: unknown): Buffer; requestDeserialize(b: Buffer): unknown }
    >;
    const x = new Float32Array(4096).fill(1.5);
    const y = new Int32Array(3).fill(7);
    const wire = ModelInfer!.requestSerialize({
      model_name: "m",
      inputs: [
        { name: "x", datatype: "FP32", shape: [4096] },
        { name: "y", datatype: "INT32", shape: [3] },
      ],
      raw_input_contents: [Buffer.from(x.buffer), Buffer.from(y.buffer)],
    });
    const received = Buffer.from(wire); // what grpc-js hands the deserializer
    const msg = ModelInfer!.requestDeserialize(received) as ModelInferRequestMsg;
    const { inputs } = decodeInferRequest(msg);
    expect(inputs).toHaveLength(2);
    for (const t of inputs) {
      expect(t.bytes.buffer).toBe(received.buffer);
      expect(t.bytes.byteOffset).toBeGreaterThanOrEqual(received.byteOffset);
      expect(t.bytes.byteOffset + t.bytes.byteLength).toBeLessThanOrEqual(
        received.byteOffset + received.length,
      );
    }
    expect(Array.from(inputs[0]!.typed() as Float32Array).slice(0, 2)).toEqual([1.5, 1.5]);
  });
});
