import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { credentials, Metadata } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveConfig } from "../../../src/config.js";
import { loadProtos } from "../../../src/frontends/grpc/load.js";
import { INTERPRETER } from "../../helpers/cli.js";
import { simpleModel } from "../../helpers/models.js";
import { startServer } from "../../helpers/server.js";

// TLS for HTTP and gRPC from certificate files, optional client certificates (mutual TLS),
// checked with Node's clients and with the official tritonclient (ssl=True).

const dir = mkdtempSync(join(tmpdir(), "tb-tls-"));
const f = (name: string) => join(dir, name);
const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });

beforeAll(() => {
  writeFileSync(f("san.cnf"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
  ssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "2",
    "-subj",
    "/CN=tb-test-ca",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
  );
  for (const [name, cn] of [
    ["server", "localhost"],
    ["client", "tb-client"],
  ] as const) {
    ssl(
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-subj",
      `/CN=${cn}`,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
    );
    // biome-ignore format: openssl argument pairs
    ssl("x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
      "-out", `${name}.pem`, ...(name === "server" ? ["-extfile", "san.cnf"] : []));
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// The server runs in this process: the Python client must not block its event loop.
const run = promisify(execFile);
const pem = (name: string) => readFileSync(f(name));

function httpsGet(
  url: string,
  options: { cert?: Buffer; key?: Buffer; headers?: Record<string, string> } = {},
) {
  return new Promise<number>((resolve, reject) => {
    const req = request(url, { ca: pem("ca.pem"), ...options }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
}

describe("TLS settings", () => {
  it("need a certificate and a key, and readable files", () => {
    expect(() => resolveConfig({ tlsCertFile: f("server.pem") }, {})).toThrow(
      /both a certificate file and a key/,
    );
    expect(() => resolveConfig({ tlsCaFile: f("ca.pem") }, {})).toThrow(/needs a certificate and key/);
    expect(() => resolveConfig({ tlsCertFile: f("none.pem"), tlsKeyFile: f("server.key") }, {})).toThrow(
      /cannot read TLS file/,
    );
    expect(resolveConfig({ tlsCertFile: f("server.pem"), tlsKeyFile: f("server.key") }, {}).tls).toEqual({
      certFile: f("server.pem"),
      keyFile: f("server.key"),
    });
  });
});

describe("HTTPS and gRPC over TLS", () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    server = await startServer([simpleModel], {
      grpc: 0,
      tlsCertFile: f("server.pem"),
      tlsKeyFile: f("server.key"),
      authToken: "tls-token",
    });
  });
  afterAll(() => server?.close());

  it("serves HTTPS (and no plain HTTP) on the HTTP port", async () => {
    expect(server.urls.http).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const ready = `${server.urls.http}/v2/health/ready`;
    expect(await httpsGet(ready, { headers: { Authorization: "Bearer tls-token" } })).toBe(200);
    expect(await httpsGet(ready)).toBe(401);
    await expect(fetch(ready.replace("https:", "http:"))).rejects.toThrow();
  });

  it("serves gRPC over TLS, with the token in metadata", async () => {
    const Ctor = (loadProtos().grpc.inference as Record<string, unknown>).GRPCInferenceService as new (
      a: string,
      c: ReturnType<typeof credentials.createSsl>,
    ) => { ServerLive(r: unknown, m: Metadata, cb: (e: unknown, r: unknown) => void): void; close(): void };
    const tlsClient = new Ctor(
      server.urls.grpc!.replace("127.0.0.1", "localhost"),
      credentials.createSsl(pem("ca.pem")),
    );
    const md = new Metadata();
    md.set("authorization", "Bearer tls-token");
    const live = await new Promise((resolve, reject) =>
      tlsClient.ServerLive({}, md, (e, r) => (e ? reject(e) : resolve(r))),
    );
    tlsClient.close();
    expect(live).toEqual({ live: true });
  });

  it("works with tritonclient's ssl options over HTTP and gRPC", async () => {
    const script = `
import sys, numpy as np
import tritonclient.http as httpclient, tritonclient.grpc as grpcclient
ca, http_url, grpc_url = sys.argv[1:4]
headers = {"Authorization": "Bearer tls-token"}
x = np.arange(16, dtype=np.int32).reshape(1, 16)
def inputs(mod):
    a, b = mod.InferInput("INPUT0", [1, 16], "INT32"), mod.InferInput("INPUT1", [1, 16], "INT32")
    a.set_data_from_numpy(x); b.set_data_from_numpy(x)
    return [a, b]
h = httpclient.InferenceServerClient(http_url, ssl=True, ssl_options={"ca_certs": ca}, insecure=False)
r = h.infer("simple", inputs(httpclient), headers=headers)
assert (r.as_numpy("OUTPUT0") == 2 * x).all()
g = grpcclient.InferenceServerClient(grpc_url, ssl=True, root_certificates=ca)
r = g.infer("simple", inputs(grpcclient), headers={"authorization": "Bearer tls-token"})
assert (r.as_numpy("OUTPUT1") == 0).all()
print("ok")
`;
    const { stdout: out } = await run(
      INTERPRETER,
      [
        "-c",
        script,
        f("ca.pem"),
        server.urls.http!.replace("https://", ""),
        server.urls.grpc!.replace("127.0.0.1", "localhost"),
      ],
      { encoding: "utf8", timeout: 60_000 },
    );
    expect(out.trim()).toBe("ok");
  }, 90_000);
});

describe("mutual TLS", () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    server = await startServer([simpleModel], {
      grpc: 0,
      tlsCertFile: f("server.pem"),
      tlsKeyFile: f("server.key"),
      tlsCaFile: f("ca.pem"),
    });
  });
  afterAll(() => server?.close());

  it("refuses clients without a certificate and serves those with one", async () => {
    const ready = `${server.urls.http}/v2/health/ready`;
    await expect(httpsGet(ready)).rejects.toThrow();
    expect(await httpsGet(ready, { cert: pem("client.pem"), key: pem("client.key") })).toBe(200);
  });

  it("does the same over gRPC, also for tritonclient", async () => {
    const script = `
import sys, tritonclient.grpc as grpcclient
ca, key, cert, url = sys.argv[1:5]
ok = grpcclient.InferenceServerClient(url, ssl=True, root_certificates=ca, private_key=key, certificate_chain=cert)
assert ok.is_server_live()
bad = grpcclient.InferenceServerClient(url, ssl=True, root_certificates=ca)
try:
    bad.is_server_live()
    print("served without a client certificate")
except Exception:
    print("ok")
`;
    const { stdout: out } = await run(
      INTERPRETER,
      [
        "-c",
        script,
        f("ca.pem"),
        f("client.key"),
        f("client.pem"),
        server.urls.grpc!.replace("127.0.0.1", "localhost"),
      ],
      { encoding: "utf8", timeout: 60_000 },
    );
    expect(out.trim()).toBe("ok");
  }, 90_000);
});
