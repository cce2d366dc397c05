import { createRequire } from "node:module";
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";
import type { ModelInferResponseOut } from "./messages.js";

/**
 * ModelInfer replies written where grpc-js frames them. grpc-js frames a reply by sizing a
 * buffer from the serialized message's `byteLength` and calling its `copy(frame, 5)`; protobufjs
 * would first copy every output into a message buffer of its own, so large outputs were copied
 * twice. Here the serializer returns a reply that writes itself on that `copy`: the message
 * header (everything but raw_output_contents, encoded by protobufjs) and then each output,
 * straight from the model's memory into the frame — one copy.
 *
 * This leans on how grpc-js frames, so it is checked once against grpc-js itself; where the check
 * fails (another grpc-js), replies are serialized by protobufjs as before.
 */

/** Replies with fewer output bytes than this are encoded by protobufjs (nothing to gain). */
const IN_PLACE_BYTES = 64 * 1024;

/** raw_output_contents is field 6, length-delimited: (6 << 3) | 2. */
const RAW_OUTPUT_TAG = 0x32;

class InPlaceReply {
  constructor(
    readonly head: Buffer,
    readonly raws: readonly Uint8Array[],
    readonly byteLength: number,
  ) {}

  /** Writes the whole message at `targetStart` (what grpc-js's framing calls). */
  copy(target: Uint8Array, targetStart = 0): number {
    target.set(this.head, targetStart);
    let at = targetStart + this.head.byteLength;
    for (const raw of this.raws) {
      target[at++] = RAW_OUTPUT_TAG;
      at = writeVarint(target, at, raw.byteLength);
      target.set(raw, at);
      at += raw.byteLength;
    }
    return at - targetStart;
  }
}

function varintLength(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

function writeVarint(target: Uint8Array, at: number, n: number): number {
  while (n >= 0x80) {
    target[at++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  target[at++] = n;
  return at;
}

type Encode = (value: ModelInferResponseOut) => Buffer;

/** The serialized reply: an InPlaceReply for large outputs, protobufjs's bytes otherwise. */
export function serializeReply(value: ModelInferResponseOut, encode: Encode): Buffer {
  const raws = value.raw_output_contents;
  let rawBytes = 0;
  for (const r of raws) rawBytes += r.byteLength;
  if (rawBytes < IN_PLACE_BYTES) return encode(value);
  const head = encode({ ...value, raw_output_contents: [] });
  let length = head.byteLength;
  for (const r of raws) length += 1 + varintLength(r.byteLength) + r.byteLength;
  // Typed as grpc-js's serializer result; grpc-js only reads byteLength and calls copy().
  return new InPlaceReply(head, raws, length) as unknown as Buffer;
}

let framesByCopy: boolean | undefined;

/** Whether this grpc-js frames a reply the way InPlaceReply relies on (checked once, on a sample). */
export function grpcFramesByCopy(): boolean {
  if (framesByCopy !== undefined) return framesByCopy;
  try {
    const require = createRequire(import.meta.url);
    const { BaseServerInterceptingCall } = require("@grpc/grpc-js/build/src/server-interceptors.js") as {
      BaseServerInterceptingCall: { prototype: { serializeMessage(value: unknown): unknown } };
    };
    const sample = new InPlaceReply(Buffer.from([0x0a, 0x01, 0x6d]), [Buffer.from([1, 2, 3])], 8);
    const framed = BaseServerInterceptingCall.prototype.serializeMessage.call(
      { handler: { serialize: () => sample } },
      undefined,
    );
    const expected = Buffer.from([0, 0, 0, 0, 8, 0x0a, 0x01, 0x6d, RAW_OUTPUT_TAG, 3, 1, 2, 3]);
    framesByCopy = Buffer.isBuffer(framed) && framed.equals(expected);
  } catch {
    framesByCopy = false;
  }
  return framesByCopy;
}

/** The definition with ModelInfer's replies written in place, where this grpc-js allows it. */
export function inPlaceReplies(definition: ServiceDefinition): ServiceDefinition {
  const method = definition.ModelInfer as MethodDefinition<unknown, ModelInferResponseOut> | undefined;
  if (method === undefined || !grpcFramesByCopy()) return definition;
  const encode = method.responseSerialize as Encode;
  return {
    ...definition,
    ModelInfer: {
      ...method,
      responseSerialize: (value: ModelInferResponseOut) => serializeReply(value, encode),
    },
  };
}
