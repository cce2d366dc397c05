// TypeScript client of the ExaTrkX-style service over HTTP (KServe v2 with Triton's binary tensor
// extension, plain fetch): one event per request with P in flight, each answer checked against
// the direct pipeline's labels, then events/s, latency percentiles and tracking quality.
//
//   .venv/bin/python examples/exatrkx/make_events.py --mu 20 --events 10 --out /tmp/exatrkx-mu20
//   npx tsx examples/exatrkx/client.ts --events /tmp/exatrkx-mu20 [--url http://127.0.0.1:8000] [--concurrency 4]
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type NpyArray, parseNpy } from "../traccc/lib/npy.js";
import { type Quality, score } from "./lib/physics.js";

interface ExatrkxEvent {
  features: Float32Array;
  n: number;
  particleId: BigInt64Array;
  particles: Float64Array;
  labels: BigInt64Array;
}

function load(file: string): NpyArray {
  return parseNpy(readFileSync(file)).array;
}

function readEvents(dir: string): ExatrkxEvent[] {
  const names = readdirSync(dir)
    .filter((f) => f.endsWith("-features.npy"))
    .sort();
  return names.map((f) => {
    const stem = join(dir, f.slice(0, -"-features.npy".length));
    const features = load(`${stem}-features.npy`);
    return {
      features: features.data as Float32Array,
      n: features.shape[0]!,
      particleId: load(`${stem}-particle_id.npy`).data as BigInt64Array,
      particles: load(`${stem}-particles.npy`).data as Float64Array,
      labels: load(`${stem}-labels.npy`).data as BigInt64Array,
    };
  });
}

/** One binary-extension request; returns the LABELS tensor. */
async function infer(url: string, model: string, ev: ExatrkxEvent): Promise<BigInt64Array> {
  const header = Buffer.from(
    JSON.stringify({
      inputs: [
        {
          name: "FEATURES",
          datatype: "FP32",
          shape: [ev.n, 3],
          parameters: { binary_data_size: ev.features.byteLength },
        },
      ],
      outputs: [{ name: "LABELS", parameters: { binary_data: true } }],
    }),
  );
  const body = Buffer.concat([
    header,
    Buffer.from(ev.features.buffer, ev.features.byteOffset, ev.features.byteLength),
  ]);
  const res = await fetch(`${url}/v2/models/${model}/infer`, {
    method: "POST",
    headers: {
      "Content-Type": "application/octet-stream",
      "Inference-Header-Content-Length": String(header.length),
    },
    body,
  });
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${Buffer.from(bytes).toString()}`);
  const jsonLength = Number(res.headers.get("inference-header-content-length"));
  const meta = JSON.parse(Buffer.from(bytes.subarray(0, jsonLength)).toString()) as {
    outputs: { name: string; parameters?: { binary_data_size?: number } }[];
  };
  const size = meta.outputs[0]?.parameters?.binary_data_size ?? bytes.length - jsonLength;
  return new BigInt64Array(bytes.slice(jsonLength, jsonLength + size).buffer);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      events: { type: "string" },
      url: { type: "string", default: "http://127.0.0.1:8000" },
      model: { type: "string", default: "exatrkx" },
      concurrency: { type: "string", default: "1" },
      json: { type: "boolean", default: false },
    },
  });
  if (!values.events) throw new Error("--events DIR is required (make_events.py writes one)");
  const events = readEvents(values.events);
  const concurrency = Number(values.concurrency);
  const latencies: number[] = [];
  const quality: Quality = { particles: 0, found: 0, tracks: 0, fakes: 0, duplicates: 0 };
  let mismatches = 0;
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < events.length; i = next++) {
        const ev = events[i]!;
        const t = performance.now();
        const labels = await infer(values.url, values.model, ev);
        latencies.push(performance.now() - t);
        if (labels.length !== ev.labels.length || labels.some((v, k) => v !== ev.labels[k])) mismatches++;
        const q = score(ev.particleId, ev.particles, labels);
        for (const k of Object.keys(quality) as (keyof Quality)[]) quality[k] += q[k];
      }
    }),
  );
  const wall = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const report = {
    events: events.length,
    concurrency,
    events_per_s: events.length / wall,
    latency_ms: {
      p50: percentile(latencies, 50),
      p90: percentile(latencies, 90),
      p99: percentile(latencies, 99),
    },
    efficiency: quality.particles ? quality.found / quality.particles : 0,
    fake_rate: quality.tracks ? quality.fakes / quality.tracks : 0,
    duplicate_rate: quality.tracks ? quality.duplicates / quality.tracks : 0,
    mismatches,
  };
  if (values.json) console.log(JSON.stringify(report));
  else {
    const l = report.latency_ms;
    console.log(
      `${events.length} events in ${wall.toFixed(2)} s: ${report.events_per_s.toFixed(2)} events/s at concurrency ${concurrency}; latency ms p50 ${l.p50.toFixed(1)}, p90 ${l.p90.toFixed(1)}, p99 ${l.p99.toFixed(1)}`,
    );
    console.log(
      `pT > 1 GeV: efficiency ${report.efficiency.toFixed(4)} (${quality.found}/${quality.particles}), fake rate ${report.fake_rate.toFixed(4)}, duplicate rate ${report.duplicate_rate.toFixed(4)} (${quality.tracks} tracks)`,
    );
    console.log(`direct pipeline: ${events.length - mismatches}/${events.length} events identical`);
  }
  return mismatches ? 1 : 0;
}

process.exitCode = await main();
