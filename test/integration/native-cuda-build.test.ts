import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { native } from "../../src/backends/native/index.js";
import { silentLogger } from "../../src/core/logger.js";
import { Tensor } from "../../src/core/tensor.js";

// The CUDA example compiled with the nvcc that scripts/setup-cuda-nvcc.sh installs from PyPI
// (.ci/run does). No GPU here: the checks are that the kernels compile for Hopper and the
// other architectures, that the addon loads and serves its C++ path on CPU instances, and that
// a GPU instance fails to start with CUDA's own explanation.
const NVCC = resolve(process.env.CUDACXX ?? ".tools/cuda/bin/nvcc");
const out = mkdtempSync(join(tmpdir(), "tb-cuda-build-"));
const addon = join(out, "Release/cuda_ops.node");
let log = "";

afterAll(() => rmSync(out, { recursive: true, force: true }));

/** Architectures of the device code embedded in a library's fatbins (ELF = real code, PTX = for JIT). */
function fatbinArchitectures(file: string): { elf: number[]; ptx: number[] } {
  const b = readFileSync(file);
  const magic = Buffer.from([0x50, 0xed, 0x55, 0xba]); // fatbin header, little-endian 0xBA55ED50
  const elf: number[] = [];
  const ptx: number[] = [];
  for (let off = b.indexOf(magic); off >= 0; off = b.indexOf(magic, off + 4)) {
    const headerSize = b.readUInt16LE(off + 6);
    const end = off + headerSize + Number(b.readBigUInt64LE(off + 8));
    for (let e = off + headerSize; e + 32 <= end; ) {
      const kind = b.readUInt16LE(e);
      const arch = b.readUInt32LE(e + 28);
      if (kind === 2) elf.push(arch);
      if (kind === 1) ptx.push(arch);
      e += b.readUInt32LE(e + 4) + Number(b.readBigUInt64LE(e + 8));
    }
  }
  return { elf, ptx };
}

describe("native CUDA example: compile check", () => {
  it("compiles the CUDA sources with nvcc, for sm_90 among others", { timeout: 300_000 }, async () => {
    expect(existsSync(NVCC), `${NVCC} is missing: run scripts/setup-cuda-nvcc.sh`).toBe(true);
    const r = await promisify(execFile)(
      process.execPath,
      ["node_modules/cmake-js/bin/cmake-js", "compile", "-d", "examples/native-cuda/addon", "-O", out],
      { env: { ...process.env, CUDACXX: NVCC }, maxBuffer: 64 << 20 },
    );
    log = r.stdout + r.stderr;
    expect(log).toMatch(/tensorbind: CUDA on \(nvcc 13\.\d+/);
    const archs = fatbinArchitectures(addon);
    expect(archs.elf).toEqual(expect.arrayContaining([75, 80, 86, 89, 90, 100, 120]));
    expect(archs.ptx.length).toBeGreaterThan(0);
  });

  it("loads without a GPU: CPU instances compute, a GPU instance explains why it cannot start", async () => {
    expect(existsSync(addon), "the compile step failed").toBe(true);
    const ctx = { model: "saxpy", version: "1", log: silentLogger, runtimeDir: out };
    const cpu = native(addon, "saxpy").create();
    await cpu.start(ctx);
    const f = (name: string, v: number[]) => Tensor.fromArray("FP32", [v.length], v, name);
    const [r] = await cpu.execute(
      [
        {
          id: undefined,
          inputs: { A: f("A", [2]), X: f("X", [1, 2, 3]), Y: f("Y", [1, 1, 1]) },
          parameters: {},
          requestedOutputs: ["Z"],
          signal: undefined,
        },
      ],
      0,
    );
    await cpu.stop();
    if (r instanceof Error || r === undefined) throw r;
    expect(Array.from(r.Z!.typed() as Float32Array)).toEqual([3, 5, 7]);
    const gpu = native(addon, "saxpy", { instances: [{ gpu: 0 }] }).create();
    await expect(gpu.start(ctx)).rejects.toThrow(
      /instance 0 \(GPU 0\) failed to start: CUDA device 0: cudaError\w+/,
    );
    await gpu.stop();
  });
});
