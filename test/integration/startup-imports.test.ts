import { execFile } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { ROOT } from "../helpers/cli.js";

const run = promisify(execFile);

// A loader hook in a fresh Node process reports every module the import of `entry` loads.
const CHILD = `
import { register } from "node:module";
import { MessageChannel } from "node:worker_threads";
const { port1, port2 } = new MessageChannel();
const urls = [];
port1.on("message", (url) => urls.push(url));
port1.unref();
const hook = "export async function initialize({ port }) { globalThis.port = port }" +
  "export async function load(url, context, next) { globalThis.port.postMessage(url); return next(url, context) }";
register("data:text/javascript," + encodeURIComponent(hook), { data: { port: port2 }, transferList: [port2] });
await import(process.argv[1]);
await new Promise((resolve) => setTimeout(resolve, 100)); // the last messages
// Node's own modules that loaded: node:http's ES module facade would load undici (fetch, WebSocket).
for (const m of process.moduleLoadList) if (m.includes("undici")) urls.push("node-internal:" + m);
process.stdout.write(JSON.stringify(urls));
`;

async function modulesLoadedBy(entry: string): Promise<string[]> {
  const { stdout } = await run(
    process.execPath,
    ["--input-type=module", "-e", CHILD, pathToFileURL(join(ROOT, entry)).href],
    { cwd: ROOT },
  );
  return JSON.parse(stdout) as string[];
}

// What only some servers need loads only when they need it: the start-up of every server (and of
// `tensorbind serve`) pays for what it loads (performance target P5).
const HEAVY = ["protobufjs", "@grpc/grpc-js", "@grpc/proto-loader", "execa", "zeromq", "esbuild", "tsx"];

describe("start-up imports", () => {
  it("the package and the CLI load no gRPC, Python-backend, repository or TypeScript-loader packages", async () => {
    for (const entry of ["dist/index.js", "dist/cli/main.js"]) {
      const loaded = await modulesLoadedBy(entry);
      expect(loaded.some((u) => u.endsWith("/dist/server.js"))).toBe(true); // the hook saw the imports
      const heavy = HEAVY.filter((pkg) => loaded.some((u) => u.includes(`/node_modules/${pkg}/`)));
      expect(heavy, entry).toEqual([]);
      expect(
        loaded.filter((u) => u.includes("/dist/repository/")),
        entry,
      ).toEqual([]);
      // Nor undici, which an ES import of node:http loads (~25 ms): core/node-http.ts requires it.
      expect(
        loaded.filter((u) => u.startsWith("node-internal:")),
        entry,
      ).toEqual([]);
    }
  });

  it("the gRPC frontend builds its services without @grpc/proto-loader", async () => {
    const loaded = await modulesLoadedBy("dist/frontends/grpc/server.js");
    expect(loaded.some((u) => u.includes("/node_modules/@grpc/grpc-js/"))).toBe(true);
    expect(loaded.filter((u) => u.includes("/node_modules/@grpc/proto-loader/"))).toEqual([]);
  });

  it("the Python backend's module, loaded before its first worker is spawned, loads no process wrapper", async () => {
    const loaded = await modulesLoadedBy("dist/backends/python/python-backend.js");
    expect(loaded.some((u) => u.includes("/node_modules/zeromq/"))).toBe(true);
    expect(loaded.filter((u) => /\/node_modules\/(execa|cross-spawn|signal-exit)\//.test(u))).toEqual([]);
  });
});
