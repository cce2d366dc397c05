import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { tensor } from "../../src/core/tensor-factory.js";
import type { BindOptions } from "../../src/model/model.js";
import { ROOT, spawnServer } from "../helpers/cli.js";
import { getJson } from "../helpers/json.js";
import { fakeNvidiaSmi } from "../helpers/nvidia-smi.js";
import { descendants } from "../helpers/procs.js";
import { find, scrape, scrapeUntil, value } from "../helpers/prometheus.js";
import { startServer } from "../helpers/server.js";

// nvidia-smi is an edge we do not own: these tests put a fake one first on PATH (or name it
// with the nvidiaSmi option) that answers like the real one, or fails like a broken driver.
const dir = mkdtempSync(join(tmpdir(), "tb-fake-smi-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const UUID0 = "GPU-5a1e39c0-8b3f-4e0c-a1d2-0123456789ab";
const UUID1 = "GPU-ffffffff-0000-1111-2222-333333333333";

/** Writes an executable `nvidia-smi` into its own folder (and zeroes its call count); returns that folder. */
function fakeSmi(name: string, body: string): string {
  const folder = join(dir, name);
  rmSync(folder, { recursive: true, force: true });
  writeFileSync(join(dir, `${name}.count`), "0");
  fakeNvidiaSmi(folder, [body]);
  return folder;
}

/** Two H100s; the first one's utilisation is the call count mod 100, so polls are visible. */
const twoGpus = (name: string) =>
  fakeSmi(
    name,
    `c="${join(dir, `${name}.count`)}"; n=$(( $(cat "$c") + 1 )); echo $n > "$c"
echo "$@" > "${join(dir, `${name}.args`)}"
echo "0, ${UUID0}, NVIDIA H100 80GB HBM3, $(( n % 100 )), 81559, 1024, 71.50, 700.00"
echo "1, ${UUID1}, NVIDIA H100 80GB HBM3, 0, 81559, 0, [N/A], [Not Supported]"`,
  );
const calls = (name: string) => Number(readFileSync(join(dir, `${name}.count`), "utf8"));

const identity: BindOptions = {
  name: "ident",
  inputs: { X: tensor("INT32", [1]) },
  outputs: { Y: tensor("INT32", [1]) },
  fn: ({ X }) => ({ Y: X! }),
};

// perf_analyzer's parser: exactly one label and a plain decimal number.
const PERF_ANALYZER_LINE = (metric: string) =>
  new RegExp(`\\n${metric}\\{gpu_uuid="([^"]+)"\\} (\\d+\\.?\\d*)`, "g");

describe("GPU metrics from nvidia-smi", () => {
  it("serves nv_gpu_* per gpu_uuid from an nvidia-smi found on PATH (tensorbind serve)", async () => {
    const folder = twoGpus("path");
    const module = join(dir, "model.mjs");
    writeFileSync(
      module,
      `import { bind, tensor } from ${JSON.stringify(pathToFileURL(join(ROOT, "dist/index.js")).href)};
bind({ name: "ident", inputs: { X: tensor("INT32", [1]) }, outputs: { Y: tensor("INT32", [1]) }, fn: ({ X }) => ({ Y: X }) });`,
    );
    const srv = await spawnServer(
      [module, "--http-port", "0", "--grpc-port", "0", "--metrics-port", "0", "--metrics-interval-ms", "100"],
      { env: { ...process.env, PATH: `${folder}:${dirname(process.execPath)}:/usr/bin:/bin` } },
    );
    try {
      const url = srv.info.metrics!;
      const m = await scrapeUntil(url, (e) => find(e, "nv_gpu_utilization").length === 2, { intervalMs: 50 });
      expect(value(m, "nv_gpu_memory_total_bytes", { gpu_uuid: UUID0 })).toBe(81559 * 2 ** 20);
      expect(value(m, "nv_gpu_memory_used_bytes", { gpu_uuid: UUID0 })).toBe(1024 * 2 ** 20);
      expect(value(m, "nv_gpu_memory_used_bytes", { gpu_uuid: UUID1 })).toBe(0);
      expect(value(m, "nv_gpu_power_usage", { gpu_uuid: UUID0 })).toBe(71.5);
      expect(value(m, "nv_gpu_power_limit", { gpu_uuid: UUID0 })).toBe(700);
      // A field the GPU does not support is no series, not a zero.
      expect(find(m, "nv_gpu_power_usage", { gpu_uuid: UUID1 })).toHaveLength(0);
      expect(m.types.get("nv_gpu_utilization")).toBe("gauge");
      for (const s of find(m, "nv_gpu_utilization")) expect(Object.keys(s.labels)).toEqual(["gpu_uuid"]);
      for (const metric of ["nv_gpu_utilization", "nv_gpu_memory_total_bytes", "nv_gpu_memory_used_bytes"]) {
        expect([...m.text.matchAll(PERF_ANALYZER_LINE(metric))].map((x) => x[1])).toEqual([UUID0, UUID1]);
      }
      expect(readFileSync(join(dir, "path.args"), "utf8")).toMatch(
        /^--query-gpu=index,uuid,name,utilization\.gpu,memory\.total,memory\.used,power\.draw,power\.limit --format=csv,noheader,nounits/,
      );
      // It is polled on the interval: the fake's utilisation follows its call count.
      const u1 = value(m, "nv_gpu_utilization", { gpu_uuid: UUID0 });
      const later = await scrapeUntil(
        url,
        (e) => value(e, "nv_gpu_utilization", { gpu_uuid: UUID0 }) !== u1,
        {
          intervalMs: 50,
        },
      );
      expect(value(later, "nv_gpu_utilization", { gpu_uuid: UUID0 })).not.toBe(u1);
      expect(value(later, "nv_gpu_utilization", { gpu_uuid: UUID0 })).toBeLessThan(1);
      const snapshot = await getJson(`${srv.info.http}/dashboard/api/snapshot`);
      expect(snapshot.gpus.map((g: { uuid: string; name: string }) => [g.uuid, g.name])).toEqual([
        [UUID0, "NVIDIA H100 80GB HBM3"],
        [UUID1, "NVIDIA H100 80GB HBM3"],
      ]);
      expect(srv.output()).toMatch(/GPU metrics: collecting from nvidia-smi/);
    } finally {
      expect(await srv.stop()).toBe(0);
    }
  });

  it("has no GPU series, and logs no warning or error, when nvidia-smi is missing or failing", async () => {
    const failing = fakeSmi(
      "failing",
      `c="${join(dir, "failing.count")}"; echo $(( $(cat "$c") + 1 )) > "$c"
echo "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver." >&2; exit 9`,
    );
    for (const nvidiaSmi of [join(dir, "missing", "nvidia-smi"), join(failing, "nvidia-smi")]) {
      const lines: string[] = [];
      const { pino } = await import("pino");
      const logger = pino({ level: "debug" }, { write: (s: string) => lines.push(s) });
      const server = await startServer([identity], { metrics: 0, nvidiaSmi, metricsIntervalMs: 50, logger });
      try {
        await new Promise((r) => setTimeout(r, 300)); // several polls
        const m = await scrape(server.urls.metrics!);
        expect(m.text).not.toMatch(/nv_gpu_/);
        expect(m.types.has("nv_gpu_utilization")).toBe(false);
        expect(value(m, "nv_inference_request_success", { model: "ident", version: "1" })).toBe(0);
        const levels = lines.map((l) => JSON.parse(l).level as number);
        expect(levels.filter((l) => l >= 40)).toEqual([]); // nothing at warn (40) or above
        expect(lines.join("")).toMatch(/GPU metrics off/);
      } finally {
        await server.close();
      }
    }
    // A failing nvidia-smi is given up on after three tries, not run forever.
    expect(calls("failing")).toBe(3);
  });

  it("stops polling and kills an nvidia-smi in flight on close", async () => {
    const folder = twoGpus("stop");
    const server = await startServer([identity], {
      metrics: 0,
      nvidiaSmi: join(folder, "nvidia-smi"),
      metricsIntervalMs: 50,
    });
    const polled = await scrapeUntil(
      server.urls.metrics!,
      (e) => find(e, "nv_gpu_utilization").length === 2,
      {
        intervalMs: 50,
      },
    );
    expect(find(polled, "nv_gpu_utilization")).toHaveLength(2); // it was polling before the close
    await server.close();
    const after = calls("stop");
    await new Promise((r) => setTimeout(r, 300));
    expect(calls("stop")).toBe(after);

    const slow = fakeSmi("slow", `echo 1 > "${join(dir, "slow.count")}"; exec sleep 30`);
    const server2 = await startServer([identity], { metrics: 0, nvidiaSmi: join(slow, "nvidia-smi") });
    while (calls("slow") === 0) await new Promise((r) => setTimeout(r, 20));
    expect(descendants(process.pid).length).toBeGreaterThan(0);
    await server2.close();
    // The sleeping poll is killed, not left behind (SIGKILL reaps within a moment).
    for (let i = 0; i < 50 && descendants(process.pid).length > 0; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(descendants(process.pid)).toEqual([]);
  });
});
