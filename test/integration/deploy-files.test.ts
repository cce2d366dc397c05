import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../helpers/cli.js";
import { simpleModel } from "../helpers/models.js";
import { fakeNvidiaSmi } from "../helpers/nvidia-smi.js";
import { scrapeUntil } from "../helpers/prometheus.js";
import { inferJson, startServer } from "../helpers/server.js";

/** A fake nvidia-smi's answer: one H100. */
const ONE_GPU = `echo "0, GPU-0000aaaa-1111, NVIDIA H100, 5, 81559, 10, 70.0, 700.0"`;

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
    const smi = fakeNvidiaSmi(dir, [ONE_GPU]);
    const server = await startServer([simpleModel], { metrics: 0, nvidiaSmi: smi, metricsIntervalMs: 100 });
    try {
      const { text } = await scrapeUntil(server.urls.metrics!, (e) => e.text.includes("nv_gpu_power_limit"), {
        intervalMs: 50,
      });
      const exposed = new Set(
        [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].flatMap((m) =>
          m[2] === "histogram" ? [`${m[1]}_bucket`, `${m[1]}_sum`, `${m[1]}_count`] : [m[1]!],
        ),
      );
      const exprs = dashboardExprs();
      expect(exprs.length).toBeGreaterThan(25);
      const used = new Set(exprs.flatMap(metricNames));
      expect(used.size).toBeGreaterThan(10); // metricNames() found the dashboard's metrics
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

  it("promtool accepts the scrape config and the rules", () => {
    const promtool = tool("promtool");
    const config = spawnSync(promtool, ["check", "config", join(ROOT, "deploy/prometheus/prometheus.yml")], {
      encoding: "utf8",
    });
    expect(config.status, config.stdout + config.stderr).toBe(0);
    expect(config.stdout).toMatch(/SUCCESS: 1 rule files found/);
  });

  it("answers every query of the Grafana dashboard through a real Prometheus", {
    timeout: 90_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "tb-prom-"));
    const smi = fakeNvidiaSmi(dir, [ONE_GPU]);
    const broken = {
      ...simpleModel,
      name: "broken",
      fn: () => {
        throw new Error("boom");
      },
    };
    const server = await startServer([simpleModel, broken], {
      metrics: 0,
      nvidiaSmi: smi,
      metricsIntervalMs: 200,
    });
    let prometheus: ChildProcess | undefined;
    try {
      const port = await freePort();
      const target = new URL(server.urls.metrics!).host;
      writeFileSync(
        join(dir, "prometheus.yml"),
        `global: { scrape_interval: 1s, evaluation_interval: 1s }\n` +
          `rule_files: [${JSON.stringify(join(ROOT, "deploy/prometheus/rules.yml"))}]\n` +
          `scrape_configs:\n  - job_name: tensorbind\n    static_configs: [{ targets: ["${target}"] }]\n`,
      );
      prometheus = spawn(
        tool("prometheus"),
        [
          `--config.file=${join(dir, "prometheus.yml")}`,
          `--storage.tsdb.path=${join(dir, "data")}`,
          `--web.listen-address=127.0.0.1:${port}`,
          "--log.level=warn",
        ],
        { stdio: ["ignore", "ignore", "pipe"] },
      );
      let log = "";
      prometheus.stderr?.on("data", (d) => (log += d));
      const api = `http://127.0.0.1:${port}/api/v1`;
      const query = async (q: string) => {
        const res = await fetch(`${api}/query?query=${encodeURIComponent(q)}`);
        return (await res.json()) as { status: string; error?: string; data: { result: unknown[] } };
      };
      // Traffic while Prometheus scrapes every second: successes, batches, failures.
      const body = {
        inputs: [
          { name: "INPUT0", datatype: "INT32", shape: [2, 16], data: Array(32).fill(1) },
          { name: "INPUT1", datatype: "INT32", shape: [2, 16], data: Array(32).fill(1) },
        ],
      };
      const until = Date.now() + 6000;
      while (Date.now() < until) {
        expect((await inferJson(server.urls.http!, "simple", body)).status).toBe(200);
        if (Math.random() < 0.1)
          expect((await inferJson(server.urls.http!, "broken", body)).status).toBe(500);
        await new Promise((r) => setTimeout(r, 20));
      }
      // Enough samples for rate() over the dashboard's windows.
      for (let i = 0; i < 60; i++) {
        const r = await query('count_over_time(up{job="tensorbind"}[1m])').catch(() => undefined);
        const n = Number((r?.data.result[0] as { value?: [number, string] } | undefined)?.value?.[1] ?? 0);
        if (n >= 5) break;
        await new Promise((res) => setTimeout(res, 500));
      }
      expect(log).not.toMatch(/level=error/);
      const empty: string[] = [];
      for (const expr of dashboardExprs()) {
        const q = expr
          .replaceAll("$job", ".*")
          .replaceAll("$instance", ".*")
          .replaceAll("$model", ".*")
          .replaceAll("$__rate_interval", "30s");
        const r = await query(q);
        expect(r.status, `${q}: ${r.error}`).toBe("success");
        if (r.data.result.length === 0) empty.push(expr);
      }
      // Only tensorbind's Python-worker panels have nothing to show for JS models.
      expect(empty.filter((e) => !/worker_restarts|shared_memory/.test(e))).toEqual([]);
      // The recording rule SuperSONIC-style autoscaling reads.
      const rule = await query("model:nv_inference_queue_duration_us_per_exec:rate1m");
      expect(rule.status).toBe("success");
      expect(rule.data.result.length).toBeGreaterThan(0);
    } finally {
      prometheus?.kill("SIGTERM");
      if (prometheus && prometheus.exitCode === null) await new Promise((r) => prometheus!.once("exit", r));
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** A binary from .tools/prometheus (scripts/install-prometheus.sh, run by .ci/run). */
function tool(name: "prometheus" | "promtool"): string {
  const path = join(ROOT, ".tools/prometheus", name);
  expect(existsSync(path), `${path} is missing: run bash scripts/install-prometheus.sh`).toBe(true);
  return path;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
