import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../helpers/cli.js";
import { simpleModel } from "../helpers/models.js";
import { scrape } from "../helpers/prometheus.js";
import { startServer } from "../helpers/server.js";

/** Triton's metric names (docs/user_guide/metrics.md) that the deploy files may use. */
const TRITON = new Set([
  "nv_inference_request_success",
  "nv_inference_request_failure",
  "nv_inference_count",
  "nv_inference_exec_count",
  "nv_inference_request_duration_us",
  "nv_inference_queue_duration_us",
  "nv_inference_compute_input_duration_us",
  "nv_inference_compute_infer_duration_us",
  "nv_inference_compute_output_duration_us",
  "nv_inference_pending_request_count",
  "nv_gpu_utilization",
  "nv_gpu_memory_total_bytes",
  "nv_gpu_memory_used_bytes",
  "nv_gpu_power_usage",
  "nv_gpu_power_limit",
  "nv_cpu_utilization",
  "nv_cpu_memory_total_bytes",
  "nv_cpu_memory_used_bytes",
]);
const PROMQL_WORDS = new Set([
  "sum",
  "by",
  "rate",
  "increase",
  "histogram_quantile",
  "le",
  "model",
  "reason",
  "version",
]);

/** Metric names in PromQL expressions: identifiers followed by `{` or `[`, or standing alone. */
function metricNames(expr: string): string[] {
  const names = [...expr.matchAll(/\b([a-z_][a-z0-9_]*)\s*(?=[{[])/g)].map((m) => m[1]!);
  return names.filter((n) => !PROMQL_WORDS.has(n) && !n.startsWith("__"));
}

function dashboardExprs(): string[] {
  const dash = JSON.parse(readFileSync(join(ROOT, "deploy/grafana/tensorbind.json"), "utf8"));
  const out: string[] = [];
  const walk = (panels: any[]) => {
    for (const p of panels) {
      for (const t of p.targets ?? []) out.push(t.expr);
      if (p.panels) walk(p.panels);
    }
  };
  walk(dash.panels);
  return out;
}

describe("deploy/ files", () => {
  it("the Grafana dashboard queries only metrics a tensorbind server exposes, and Triton's under Triton's names", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tb-deploy-"));
    const smi = join(dir, "nvidia-smi");
    writeFileSync(smi, `#!/bin/sh\necho "0, GPU-0000aaaa-1111, NVIDIA H100, 5, 81559, 10, 70.0, 700.0"\n`);
    chmodSync(smi, 0o755);
    const server = await startServer([simpleModel], { metrics: 0, nvidiaSmi: smi, metricsIntervalMs: 100 });
    try {
      let text = "";
      for (let i = 0; i < 50 && !text.includes("nv_gpu_power_limit"); i++) {
        text = (await scrape(server.urls.metrics!)).text;
        await new Promise((r) => setTimeout(r, 50));
      }
      const exposed = new Set(
        [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].flatMap((m) =>
          m[2] === "histogram" ? [`${m[1]}_bucket`, `${m[1]}_sum`, `${m[1]}_count`] : [m[1]!],
        ),
      );
      const exprs = dashboardExprs();
      expect(exprs.length).toBeGreaterThan(25);
      const used = new Set(exprs.flatMap(metricNames));
      for (const name of used) {
        expect(exposed.has(name), `${name} is not exposed`).toBe(true);
        if (name.startsWith("nv_")) expect(TRITON.has(name), `${name} is not a Triton metric`).toBe(true);
      }
      // Everything a Triton dashboard needs is there.
      for (const name of TRITON) expect(exposed.has(name), name).toBe(true);
      const rules = readFileSync(join(ROOT, "deploy/prometheus/rules.yml"), "utf8");
      for (const name of new Set(metricNames(rules))) {
        if (name.startsWith("nv_") || name.startsWith("tensorbind_"))
          expect(exposed.has(name), name).toBe(true);
      }
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("every dashboard panel has a data source, a unique id and a place on the grid", () => {
    const dash = JSON.parse(readFileSync(join(ROOT, "deploy/grafana/tensorbind.json"), "utf8"));
    expect(dash.uid).toBe("tensorbind-triton");
    const ids = new Set<number>();
    const walk = (panels: any[]) => {
      for (const p of panels) {
        expect(ids.has(p.id), `duplicate panel id ${p.id}`).toBe(false);
        ids.add(p.id);
        expect(p.gridPos).toMatchObject({
          x: expect.any(Number),
          y: expect.any(Number),
          w: expect.any(Number),
        });
        if (p.type !== "row") {
          expect(p.datasource).toEqual({ type: "prometheus", uid: "$" + "{datasource}" });
          for (const t of p.targets)
            expect(t.expr).not.toMatch(/\$\{?(?!job|instance|model|__rate_interval)\w/);
        }
        if (p.panels) walk(p.panels);
      }
    };
    walk(dash.panels);
    expect(dash.templating.list.map((v: { name: string }) => v.name)).toEqual([
      "datasource",
      "job",
      "instance",
      "model",
    ]);
  });
});
