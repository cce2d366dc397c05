// The traccc example's C++ tests (examples/traccc/test/tests.cpp), one vitest case each so they
// count in the summary: the per-element functions shared by the CPU loops and the CUDA kernels,
// order independence (what parallel GPU threads need), determinism, physics at mu = 20. The
// CUDA agreement cases report as skipped without a GPU; bench/gpu/traccc.sh runs them on one.
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INTERPRETER, ROOT, type ServerProcess, spawnServer } from "../helpers/cli.js";

const BIN = join(import.meta.dirname, "../../examples/traccc/build/core/traccc-tests");
const names = existsSync(BIN)
  ? execFileSync(BIN, ["--list"], { encoding: "utf8" }).split("\n").filter(Boolean)
  : [];

describe("traccc C++ tests", () => {
  it("are built (npm run build:traccc)", () => {
    expect(existsSync(BIN), `${BIN} is missing: run npm run build:traccc`).toBe(true);
    expect(names.length).toBeGreaterThan(10);
  });

  for (const name of names) {
    it(name.replaceAll("_", " "), (ctx) => {
      const r = spawnSync(BIN, ["--exact", name], { encoding: "utf8", timeout: 60_000 });
      const out = `${r.stdout}${r.stderr}`;
      const skipped = /^skip (.*)$/m.exec(out); // "skip cuda_agrees_with_cpu (no usable CUDA device)"
      if (skipped) ctx.skip(skipped[1]);
      expect(out, out).toMatch(new RegExp(`^ok +${name}$`, "m"));
      expect(r.status).toBe(0);
    });
  }
});

// The example served on the CPU and driven by its tritonclient client (examples/traccc/client.py)
// over both protocols on the same few mu = 20 events: HTTP (binary tensors, one connection per
// worker thread) must find exactly the tracks gRPC finds. test/conformance/test_traccc.py checks
// the physics targets and the outputs tensor by tensor.
const GEN = join(ROOT, "examples/traccc/build/core/traccc-gen");
const ADDON = join(ROOT, "examples/traccc/build/Release/traccc.node");
const clientProbe = spawnSync(INTERPRETER, ["-c", "import tritonclient.grpc, tritonclient.http"], {
  encoding: "utf8",
});
const clientMissing =
  clientProbe.status !== 0
    ? `'${INTERPRETER}' cannot import tritonclient.grpc and .http: ${clientProbe.stderr.trim().split("\n").pop()}`
    : existsSync(GEN) && existsSync(ADDON)
      ? undefined
      : `${GEN} or the addon is missing: run npm run build:traccc`;

interface ClientReport {
  events: number;
  concurrency: number;
  physics: {
    selected: number;
    found: number;
    tracks: number;
    fakes: number;
    duplicates: number;
    efficiency: number;
  };
}

describe.skipIf(clientMissing !== undefined)("traccc served, example client over gRPC and HTTP", () => {
  let server: ServerProcess;
  let events: string;
  beforeAll(async () => {
    server = await spawnServer(
      ["examples/traccc/models.ts", "--http-port", "0", "--grpc-port", "0", "--metrics-port", "0"],
      { env: { ...process.env, TRACCC_DEVICE: "cpu", TRACCC_INSTANCES: "2" }, timeoutMs: 120_000 },
    );
    events = join(server.dir, "mu20");
    execFileSync(GEN, ["--mu", "20", "--events", "3", "--seed", "21", "--out", events], { stdio: "ignore" });
  }, 180_000);
  afterAll(async () => {
    if (server) expect(await server.stop("SIGTERM")).toBe(0);
  });

  async function runClient(protocol: "grpc" | "http", url: string): Promise<ClientReport> {
    const json = join(server.dir, `${protocol}.json`);
    await promisify(execFile)(
      INTERPRETER,
      [
        "examples/traccc/client.py",
        "--protocol",
        protocol,
        "--url",
        url,
        "--events",
        events,
        "--concurrency",
        "2",
        "--json",
        json,
      ],
      { cwd: ROOT, timeout: 120_000 },
    );
    return JSON.parse(readFileSync(json, "utf8")) as ClientReport;
  }

  it("client.py --protocol http finds the tracks --protocol grpc finds", { timeout: 240_000 }, async () => {
    const grpc = await runClient("grpc", server.info.grpc!);
    const http = await runClient("http", server.info.http); // http://host:port, as the ready file has it
    expect(http.events).toBe(3);
    expect(http.concurrency).toBe(2);
    expect(http.physics).toEqual(grpc.physics);
    expect(http.physics.selected).toBeGreaterThan(200);
    expect(http.physics.efficiency).toBeGreaterThanOrEqual(0.9);
  });
});

// The CUDA chain compiled for Hopper with the nvcc that scripts/setup-cuda-nvcc.sh installs from
// PyPI (.ci/run does): no GPU here, so the checks are that every kernel compiles and links, that
// the CUDA build's CPU path still passes the C++ tests, and that asking for the GPU gives CUDA's
// own explanation. bench/gpu/traccc.sh runs it on a GPU.
const NVCC = resolve(process.env.CUDACXX ?? ".tools/cuda/bin/nvcc");

describe("traccc CUDA chain: compile check", () => {
  const out = mkdtempSync(join(tmpdir(), "traccc-cuda-"));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("compiles and links the kernels for sm_90 with nvcc", { timeout: 600_000 }, async () => {
    expect(existsSync(NVCC), `${NVCC} is missing: run scripts/setup-cuda-nvcc.sh`).toBe(true);
    const run = promisify(execFile);
    const configure = await run(
      "cmake",
      ["-S", "examples/traccc", "-B", out, `-DCMAKE_CUDA_COMPILER=${NVCC}`, "-DCMAKE_CUDA_ARCHITECTURES=90"],
      { maxBuffer: 64 << 20 },
    );
    expect(configure.stdout).toMatch(/traccc example: CUDA ON/);
    await run("cmake", ["--build", out, "--target", "traccc-reco", "traccc-tests", "-j", "2"], {
      maxBuffer: 64 << 20,
    });
    expect(existsSync(join(out, "libtraccc_cuda.a"))).toBe(true);
  });

  it("runs the CPU chain from the CUDA build; the GPU chain runs or is refused with CUDA's reason", () => {
    const tests = spawnSync(join(out, "traccc-tests"), ["physics", "order", "cuda"], { encoding: "utf8" });
    const summary = /^(\d+) passed, (\d+) failed, (\d+) skipped$/m.exec(tests.stdout);
    expect(summary, tests.stdout).not.toBeNull();
    const [passed, failed, skipped] = summary!.slice(1).map(Number) as [number, number, number];
    expect(failed, tests.stdout).toBe(0);
    expect(passed).toBeGreaterThanOrEqual(2); // the two CPU cases pass everywhere
    expect(passed + skipped).toBeGreaterThanOrEqual(3);
    // Without a GPU every CUDA case is skipped for that reason; with one, none is skipped.
    const noDevice = /^skip \S+ \(no usable CUDA device/m.test(tests.stdout);
    if (skipped > 0) expect(noDevice, tests.stdout).toBe(true);
    const reco = spawnSync(join(out, "traccc-reco"), ["--mu", "5", "--events", "1", "--device", "cuda"], {
      encoding: "utf8",
    });
    if (noDevice) {
      expect(reco.status).toBe(1);
      expect(reco.stderr).toMatch(/traccc-reco: CUDA error in cudaGetDeviceCount: \w+/);
    } else {
      expect(reco.status, reco.stderr).toBe(0);
    }
  });
});
