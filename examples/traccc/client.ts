// TypeScript client of the traccc service over gRPC (@grpc/grpc-js with tensorbind's .proto
// files): one event per request at a chosen concurrency, then efficiency, fake rate, duplicate
// rate and events/s, like client.py.
//
//   npx tsx examples/traccc/client.ts --events events/mu20 [--url 127.0.0.1:8001] [--concurrency 4]
//   traccc-gen --mu 20 --events 50 --stream | npx tsx examples/traccc/client.ts --events -
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { credentials, type GrpcObject, loadPackageDefinition, type ServiceError } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import {
  DEFAULT_PITCH,
  eventsFromStream,
  type PitchTable,
  readEventDir,
  type TracccEvent,
} from "./lib/events.js";
import { addPhysics, emptyPhysics, evaluate, rates, type TrackOutputs } from "./lib/physics.js";

const PROTO_DIR = fileURLToPath(new URL("../../src/frontends/grpc/proto/", import.meta.url));

interface InferResponse {
  outputs: { name: string; datatype: string; shape: string[] }[];
  raw_output_contents: Buffer[];
}

type Infer = (req: unknown, cb: (err: ServiceError | null, res: InferResponse) => void) => void;

function connect(url: string): { infer: (req: unknown) => Promise<InferResponse>; close: () => void } {
  const def = loadSync("grpc_service.proto", {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    includeDirs: [PROTO_DIR],
  });
  const inference = loadPackageDefinition(def).inference as GrpcObject;
  const Ctor = inference.GRPCInferenceService as unknown as new (
    a: string,
    c: ReturnType<typeof credentials.createInsecure>,
    o: Record<string, number>,
  ) => { ModelInfer: Infer; close(): void };
  const client = new Ctor(url, credentials.createInsecure(), {
    "grpc.max_receive_message_length": -1,
    "grpc.max_send_message_length": -1,
  });
  return {
    infer: (req) =>
      new Promise((resolve, reject) =>
        client.ModelInfer(req, (err, res) => (err ? reject(err) : resolve(res))),
      ),
    close: () => client.close(),
  };
}

function request(model: string, ev: TracccEvent) {
  const pos = ev.arrays.cell_positions;
  const prop = ev.arrays.cell_properties;
  const bytes = (a: { data: ArrayBufferView }) =>
    Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength);
  return {
    model_name: model,
    inputs: [
      { name: "CELL_POSITIONS", datatype: "INT64", shape: pos.shape },
      { name: "CELL_PROPERTIES", datatype: "FP32", shape: prop.shape },
    ],
    outputs: [{ name: "TRK_PARAMS" }, { name: "MEASUREMENTS" }, { name: "GEOMETRY_IDS" }],
    raw_input_contents: [bytes(pos), bytes(prop)],
  };
}

function decode(res: InferResponse): TrackOutputs {
  const raw = (name: string) => {
    const i = res.outputs.findIndex((o) => o.name === name);
    if (i < 0) throw new Error(`response has no ${name}`);
    return new Uint8Array(res.raw_output_contents[i]!).buffer; // a copy: aligned for typed arrays
  };
  return {
    trkParams: new Float32Array(raw("TRK_PARAMS")),
    measurements: new Float32Array(raw("MEASUREMENTS")),
    geometryIds: new BigInt64Array(raw("GEOMETRY_IDS")),
  };
}

export interface ClientReport {
  events: number;
  concurrency: number;
  seconds: number;
  eventsPerSecond: number;
  efficiency: number;
  fakeRate: number;
  duplicateRate: number;
  selected: number;
  found: number;
  tracks: number;
}

/** Sends every event `repeat` times with `concurrency` requests in flight and scores the tracks. */
export async function runClient(opts: {
  url: string;
  model: string;
  events: TracccEvent[];
  pitch: PitchTable;
  concurrency: number;
  repeat: number;
}): Promise<ClientReport> {
  const { events } = opts;
  const conn = connect(opts.url);
  try {
    const requests = events.map((ev) => request(opts.model, ev));
    await conn.infer(requests[0]); // warm-up
    const outputs: (TrackOutputs | undefined)[] = new Array(events.length);
    const total = events.length * opts.repeat;
    let next = 0;
    const t0 = performance.now();
    const worker = async () => {
      for (let i = next++; i < total; i = next++) {
        const res = await conn.infer(requests[i % events.length]);
        if (i < events.length) outputs[i] = decode(res);
      }
    };
    await Promise.all(Array.from({ length: opts.concurrency }, worker));
    const seconds = (performance.now() - t0) / 1000;
    const physics = emptyPhysics();
    for (const [i, ev] of events.entries()) addPhysics(physics, evaluate(ev, outputs[i]!, opts.pitch));
    return {
      events: total,
      concurrency: opts.concurrency,
      seconds,
      eventsPerSecond: total / seconds,
      ...rates(physics),
      selected: physics.selected,
      found: physics.found,
      tracks: physics.tracks,
    };
  } finally {
    conn.close();
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      url: { type: "string", default: "127.0.0.1:8001" },
      model: { type: "string", default: "traccc" },
      events: { type: "string" },
      limit: { type: "string" },
      concurrency: { type: "string", default: "1" },
      repeat: { type: "string", default: "1" },
      json: { type: "string" },
    },
  });
  if (!values.events) {
    console.error(
      "usage: client.ts --events DIR|- [--url host:port] [--concurrency N] [--repeat R] [--json FILE]",
    );
    return 2;
  }
  const limit = values.limit ? Number(values.limit) : undefined;
  const { events, pitch } =
    values.events === "-"
      ? { events: eventsFromStream(readFileSync(0), limit), pitch: DEFAULT_PITCH }
      : readEventDir(values.events, limit);
  if (events.length === 0) {
    console.error("no events");
    return 2;
  }
  const r = await runClient({
    url: values.url,
    model: values.model,
    events,
    pitch,
    concurrency: Math.max(1, Number(values.concurrency)),
    repeat: Math.max(1, Number(values.repeat)),
  });
  console.log(
    `${r.events} events at concurrency ${r.concurrency}: ${r.eventsPerSecond.toFixed(2)} events/s\n` +
      `efficiency ${r.efficiency.toFixed(4)} (${r.found}/${r.selected}), fake rate ${r.fakeRate.toFixed(4)} ` +
      `(of ${r.tracks} tracks), duplicate rate ${r.duplicateRate.toFixed(4)}`,
  );
  if (values.json) writeFileSync(values.json, `${JSON.stringify(r, null, 2)}\n`);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
