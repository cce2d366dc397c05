import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { loadProtos } from "../../src/frontends/grpc/load.js";
import type { ModelInferResponseOut } from "../../src/frontends/grpc/messages.js";
import { grpcFramesByCopy, inPlaceReplies, serializeReply } from "../../src/frontends/grpc/reply.js";

// ModelInfer replies with large outputs are written straight into the frame grpc-js sends: the
// bytes are exactly protobufjs's encoding, framed, with each output copied once.

const { BaseServerInterceptingCall } = createRequire(import.meta.url)(
  "@grpc/grpc-js/build/src/server-interceptors.js",
) as { BaseServerInterceptingCall: { prototype: { serializeMessage(v: unknown): Buffer } } };

const method = loadProtos().inference.ModelInfer!;
const encode = method.responseSerialize as (v: ModelInferResponseOut) => Buffer;

/** What grpc-js puts on the wire for a reply, given the method's serializer. */
function frame(serialize: (v: ModelInferResponseOut) => Buffer, value: ModelInferResponseOut): Buffer {
  return BaseServerInterceptingCall.prototype.serializeMessage.call({ handler: { serialize } }, value);
}

function reply(sizes: number[]): ModelInferResponseOut {
  return {
    model_name: "m",
    model_version: "1",
    id: "req-7",
    parameters: { sequence_end: { bool_param: true } },
    outputs: sizes.map((n, i) => ({ name: `Y${i}`, datatype: "UINT8", shape: [n], parameters: {} })),
    raw_output_contents: sizes.map((n, i) => Buffer.alloc(n, i + 1)),
  } as ModelInferResponseOut;
}

describe("ModelInfer replies written in place", () => {
  it("holds for the grpc-js this package uses", () => {
    expect(grpcFramesByCopy()).toBe(true);
    expect(inPlaceReplies(loadProtos().inference).ModelInfer!.responseSerialize).not.toBe(encode);
  });

  it.each([[[1 << 20]], [[300_000, 0, 200, 70_000]], [[16_384, 1 << 17]]])(
    "frames exactly protobufjs's bytes (outputs %j)",
    (sizes) => {
      const value = reply(sizes);
      const inPlace = frame((v) => serializeReply(v, encode), value);
      expect(inPlace.equals(frame(encode, value))).toBe(true);
      const decoded = method.responseDeserialize(inPlace.subarray(5)) as ModelInferResponseOut;
      expect(decoded.raw_output_contents.map((b) => b.length)).toEqual(sizes);
      expect(decoded.id).toBe("req-7");
    },
  );

  it("leaves small replies to protobufjs", () => {
    const value = reply([100, 200]);
    const s = serializeReply(value, encode);
    expect(Buffer.isBuffer(s)).toBe(true);
    expect(s.equals(encode(value))).toBe(true);
  });

  it("copies each output once: the frame is the only buffer they are written to", () => {
    const value = reply([1 << 20]);
    const s = serializeReply(value, encode);
    expect(Buffer.isBuffer(s)).toBe(false); // no message buffer of its own
    const target = Buffer.alloc(s.byteLength + 5);
    s.copy(target, 5);
    expect(target.subarray(target.length - (1 << 20)).equals(value.raw_output_contents[0]!)).toBe(true);
  });
});
