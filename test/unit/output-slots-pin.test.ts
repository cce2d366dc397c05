import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import type { OutputSegments } from "../../src/backends/python/arena.js";
import { OutputSlots, pinOutputView } from "../../src/backends/python/output-slots.js";
import type { OutputSet, SlotRef } from "../../src/backends/python/protocol.js";
import { takeRelease } from "../../src/core/release.js";

// One 64-byte "segment" 0: what the server would have mapped from the worker.
const memory = new ArrayBuffer(64);
const segments = {
  view: (_segment: number, offset: number, length: number) => new Uint8Array(memory, offset, length),
} as unknown as OutputSegments;

function slots() {
  const back: SlotRef[] = [];
  const s = new OutputSlots(
    () => segments,
    (_incarnation, slot) => back.push(slot),
  );
  return { s, back };
}

// V8's gc() without --expose-gc on the command line: the flag set at run time, read in a new context.
setFlagsFromString("--expose-gc");
const collectGarbage = runInNewContext("gc") as () => void;
async function collected(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    collectGarbage();
    await new Promise((r) => setTimeout(r, 5)); // FinalizationRegistry callbacks run as tasks
  }
}

const set = (offset: number): OutputSet => ({
  slot: [0, offset],
  outputs: [{ name: "OUT", datatype: "FP32", shape: [2], segment: 0, offset, length: 8 }],
});

describe("an output slot read in place by another call (pinOutputView)", () => {
  it("goes back to its worker only after the pin, even when its result is released first", () => {
    const { s, back } = slots();
    const result = s.result(set(0), 1);
    const pin = pinOutputView(result.OUT!.bytes);
    expect(pin).toBeDefined();
    takeRelease(result)!(); // the ensemble is done with its step's response
    expect(back).toEqual([]); // the next step is still reading it
    pin!.release();
    expect(back).toEqual([[0, 0]]);
    pin!.release(); // idempotent
    expect(back).toEqual([[0, 0]]);
  });

  it("goes back at once on release when nobody pinned it, and cannot be pinned after", () => {
    const { s, back } = slots();
    const result = s.result(set(8), 1);
    takeRelease(result)!();
    expect(back).toEqual([[0, 8]]);
    expect(pinOutputView(result.OUT!.bytes)).toBeUndefined(); // given back: a reader must copy
  });

  it("stays out while any of several pins holds it", () => {
    const { s, back } = slots();
    const result = s.result(set(16), 1);
    const [a, b] = [pinOutputView(result.OUT!.bytes)!, pinOutputView(result.OUT!.bytes)!];
    takeRelease(result)!();
    a.release();
    expect(back).toEqual([]);
    b.release();
    expect(back).toEqual([[0, 16]]);
  });

  it("is not pinnable through views it did not hand out", () => {
    const { s } = slots();
    const result = s.result(set(24), 1);
    const other = new Uint8Array(memory, 24, 8); // same memory, a view of someone else's
    expect(pinOutputView(other)).toBeUndefined();
    takeRelease(result)!();
  });
});

describe("an output slot nobody releases explicitly", () => {
  it("stays out while its release function is held, even with every view of it collected", async () => {
    const { s, back } = slots();
    // What a frontend holds while node writes Buffers of its own over the memory: the release only.
    let release: (() => void) | undefined = takeRelease(s.result(set(32), 1));
    await collected();
    expect(back).toEqual([]);
    release!();
    expect(back).toEqual([[0, 32]]);
    release = undefined;
  });

  it("goes back once its views and its release function are all collected (a dropped in-process result)", async () => {
    const { s, back } = slots();
    s.result(set(40), 1);
    await collected();
    expect(back).toEqual([[0, 40]]);
  });
});
