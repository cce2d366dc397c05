import { describe, expect, it } from "vitest";
import { SharedArena } from "../../src/backends/python/arena.js";
import { shm } from "../../src/backends/shm-addon.js";

// A model unloading while a request body is still arriving in its arena must not unmap the
// memory under the writer (the HTTP frontend reads bodies there directly from the socket).

describe("SharedArena.close()", () => {
  it("keeps a segment with a lent slot mapped until the slot is released, then unmaps it", () => {
    const dropped: number[] = [];
    const arena = new SharedArena({ what: "test", limitBytes: Infinity, onDrop: (id) => dropped.push(id) });
    const lent = arena.alloc(2 << 20);
    const idle = arena.alloc(8 << 20); // larger than the first segment: a second segment
    idle.release();
    const before = shm().liveMappings();
    arena.close();
    expect(dropped).toEqual([idle.segment]); // the idle one goes at once
    expect(shm().liveMappings()).toBe(before - 1);
    lent.bytes.fill(7); // still mapped: writing is safe
    expect(lent.bytes.buffer.byteLength).toBeGreaterThan(0);
    lent.release();
    expect(dropped).toEqual([idle.segment, lent.segment]);
    expect(lent.bytes.buffer.byteLength).toBe(0); // unmapped (and detached) now
    expect(shm().liveMappings()).toBe(before - 2);
    expect(() => arena.alloc(1)).toThrow(/closed/);
  });
});
