import { describe, expect, it } from "vitest";
import { python } from "../../src/backends/python/index.js";
import { tensor } from "../../src/core/tensor-factory.js";
import { INTERPRETER } from "../helpers/cli.js";
import { scrape, value } from "../helpers/prometheus.js";
import { inferJson, startServer } from "../helpers/server.js";

const x = (v: number) => ({ inputs: [{ name: "x", shape: [1], datatype: "INT32", data: [v] }] });

describe("Python worker metrics", () => {
  it("counts worker restarts and reports the shared memory the workers' arenas map", {
    timeout: 60_000,
  }, async () => {
    const server = await startServer(
      [
        {
          name: "crashy",
          fn: python("python/tests/fixtures/models.py", "crash_on_negative", { interpreter: INTERPRETER }),
          inputs: { x: tensor("INT32", [1]) },
          outputs: { y: tensor("INT32", [1]), pid: tensor("INT64", [1]) },
        },
      ],
      { metrics: 0 },
    );
    try {
      const base = server.urls.http!;
      const labels = { model: "crashy", version: "1" };
      let m = await scrape(server.urls.metrics!);
      expect(value(m, "tensorbind_worker_restarts_total", labels)).toBe(0);
      expect((await inferJson(base, "crashy", x(1))).status).toBe(200);
      m = await scrape(server.urls.metrics!);
      // At least the input arena's first segment (1 MiB) and the worker's output segment.
      expect(value(m, "tensorbind_shared_memory_bytes", labels)).toBeGreaterThanOrEqual(2 ** 20);

      // The worker SIGKILLs itself: that request fails, a new worker takes over.
      expect((await inferJson(base, "crashy", x(-1))).status).toBeGreaterThanOrEqual(500);
      let status = 0;
      for (let i = 0; i < 100 && status !== 200; i++) {
        await new Promise((r) => setTimeout(r, 100));
        status = (await inferJson(base, "crashy", x(2))).status;
      }
      expect(status).toBe(200);
      m = await scrape(server.urls.metrics!);
      expect(value(m, "tensorbind_worker_restarts_total", labels)).toBe(1);
      expect(value(m, "tensorbind_shared_memory_bytes", labels)).toBeGreaterThanOrEqual(2 ** 20);
      expect(value(m, "nv_inference_request_success", labels)).toBeGreaterThanOrEqual(2);
      expect(
        value(m, "nv_inference_request_failure", { ...labels, reason: "OTHER" }) +
          value(m, "nv_inference_request_failure", { ...labels, reason: "BACKEND" }) +
          value(m, "nv_inference_request_failure", { ...labels, reason: "REJECTED" }),
      ).toBeGreaterThanOrEqual(1);
    } finally {
      await server.close();
    }
  });
});
