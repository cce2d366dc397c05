import { describe, expect, it } from "vitest";
import type { SlotRef } from "../../src/backends/python/protocol.js";
import { RELEASE_DELAY_MS, SlotReleases } from "../../src/backends/python/slot-releases.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function recorder() {
  const sent: { at: number; release: SlotRef[] }[] = [];
  const releases = new SlotReleases((release) => sent.push({ at: performance.now(), release }));
  return { sent, releases };
}

describe("released output slots on their way back to the worker", () => {
  it("ride on the next batch: no message of their own when a batch takes them in time", async () => {
    const { sent, releases } = recorder();
    releases.push([0, 64]);
    releases.push([0, 128]);
    expect(releases.take()).toEqual([
      [0, 64],
      [0, 128],
    ]);
    await sleep(RELEASE_DELAY_MS * 5);
    expect(sent).toEqual([]);
  });

  it("go in a message of their own once no batch took them for the delay", async () => {
    const { sent, releases } = recorder();
    const t0 = performance.now();
    releases.push([1, 0]);
    await sleep(RELEASE_DELAY_MS * 10);
    expect(sent.map((s) => s.release)).toEqual([[[1, 0]]]);
    expect(sent[0]!.at - t0).toBeGreaterThanOrEqual(RELEASE_DELAY_MS - 0.5);
    expect(releases.take()).toEqual([]);
  });

  it("a slot released after a batch took the earlier ones waits its own full delay", async () => {
    const { sent, releases } = recorder();
    releases.push([0, 0]);
    releases.take(); // a batch carried it; the timer it started is still armed
    await sleep(RELEASE_DELAY_MS / 2);
    const t1 = performance.now();
    releases.push([0, 64]);
    await sleep(RELEASE_DELAY_MS * 10);
    expect(sent.map((s) => s.release)).toEqual([[[0, 64]]]);
    expect(sent[0]!.at - t1).toBeGreaterThanOrEqual(RELEASE_DELAY_MS - 0.5);
  });

  it("forgets what waits when its worker is gone", async () => {
    const { sent, releases } = recorder();
    releases.push([2, 0]);
    releases.clear();
    await sleep(RELEASE_DELAY_MS * 5);
    expect(sent).toEqual([]);
  });
});
