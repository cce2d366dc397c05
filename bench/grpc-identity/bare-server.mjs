// A bare @grpc/grpc-js server that answers ModelInfer for identity_fp32 by echoing the request's
// raw_input_contents — the floor any gRPC frontend on grpc-js could reach. It loads the same
// .proto files with the same proto-loader options as tensorbind, and answers just enough
// metadata/config for perf_analyzer. Prints {"grpc":"127.0.0.1:PORT"} on stdout once listening,
// and writes it to the file after --ready-file, when given.
import { renameSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { Server, ServerCredentials, status } from "@grpc/grpc-js";
import { loadProtos } from "../../dist/frontends/grpc/load.js";

const { values: args } = parseArgs({ options: { "ready-file": { type: "string" } } });
const MODEL = "identity_fp32";
const tensor = { name: "INPUT0", datatype: "FP32", shape: [-1, -1] };
const { inference } = loadProtos();

const notFound = (name) => ({
  code: status.NOT_FOUND,
  details: `Request for unknown model: '${name}' is not found`,
});

const server = new Server({
  "grpc.max_receive_message_length": 2 ** 31 - 1,
  "grpc.max_send_message_length": 2 ** 31 - 1,
});
server.addService(inference, {
  ServerLive: (_call, cb) => cb(null, { live: true }),
  ServerReady: (_call, cb) => cb(null, { ready: true }),
  ModelReady: (call, cb) => cb(null, { ready: call.request.name === MODEL }),
  ServerMetadata: (_call, cb) => cb(null, { name: "bare", version: "0", extensions: [] }),
  ModelMetadata: (call, cb) =>
    call.request.name === MODEL
      ? cb(null, {
          name: MODEL,
          versions: ["1"],
          platform: "bare",
          inputs: [tensor],
          outputs: [{ ...tensor, name: "OUTPUT0" }],
        })
      : cb(notFound(call.request.name)),
  ModelConfig: (call, cb) =>
    call.request.name === MODEL
      ? cb(null, {
          config: {
            name: MODEL,
            platform: "bare",
            backend: "bare",
            max_batch_size: 8,
            input: [{ name: "INPUT0", data_type: "TYPE_FP32", dims: [-1] }],
            output: [{ name: "OUTPUT0", data_type: "TYPE_FP32", dims: [-1] }],
          },
        })
      : cb(notFound(call.request.name)),
  ModelInfer: (call, cb) => {
    const req = call.request;
    const input = req.inputs[0];
    cb(null, {
      model_name: req.model_name,
      model_version: "1",
      id: req.id,
      outputs: [{ name: "OUTPUT0", datatype: input.datatype, shape: input.shape }],
      raw_output_contents: req.raw_input_contents,
    });
  },
});

server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  const info = JSON.stringify({ grpc: `127.0.0.1:${port}`, pid: process.pid });
  process.stdout.write(`${info}\n`);
  if (args["ready-file"]) {
    writeFileSync(`${args["ready-file"]}.tmp`, info);
    renameSync(`${args["ready-file"]}.tmp`, args["ready-file"]); // whole, or not there
  }
});
const stop = () => server.tryShutdown(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
