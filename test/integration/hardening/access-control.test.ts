import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Metadata } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveConfig } from "../../../src/config.js";
import { parseRestrictedApi } from "../../../src/core/restricted-api.js";
import { healthClient, inferenceClient } from "../../helpers/grpc.js";
import { simpleModel, simpleRequest } from "../../helpers/models.js";
import { startServer } from "../../helpers/server.js";

const TOKEN = "tok-3f9a";
const bearer = { Authorization: `Bearer ${TOKEN}` };

describe("restricted API specs", () => {
  it("parses Triton's API[,API]:KEY=VALUE", () => {
    expect(parseRestrictedApi("model-repository,shared-memory:Admin-Key=a=b")).toEqual({
      groups: new Set(["model-repository", "shared-memory"]),
      header: "admin-key",
      value: "a=b",
    });
  });
  for (const bad of [
    "statistics",
    "statistics:k",
    "statistics:=v",
    "statistics:k=",
    ":k=v",
    "stats:k=v",
    "statistics:a b=v",
  ]) {
    it(`refuses '${bad}'`, () => {
      expect(() => parseRestrictedApi(bad)).toThrow(/invalid restricted API/);
    });
  }
  it("reads the token from a file, never both a token and a file", () => {
    const dir = mkdtempSync(join(tmpdir(), "tb-auth-"));
    try {
      const file = join(dir, "token");
      writeFileSync(file, `${TOKEN}\n`);
      expect(resolveConfig({ authTokenFile: file }, {}).authToken).toBe(TOKEN);
      expect(resolveConfig({}, { TENSORBIND_AUTH_TOKEN: "e" }).authToken).toBe("e");
      expect(() => resolveConfig({ authToken: "a", authTokenFile: file }, {})).toThrow(/not both/);
      expect(() => resolveConfig({ authTokenFile: join(dir, "none") }, {})).toThrow(/cannot read/);
      expect(
        resolveConfig({}, { TENSORBIND_HTTP_RESTRICTED_API: "statistics:a=1;trace:b=2" }).httpRestrictedApi,
      ).toHaveLength(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("bearer token and restricted APIs over HTTP and gRPC", () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  let http: string;
  beforeAll(async () => {
    server = await startServer([simpleModel], {
      grpc: 0,
      authToken: TOKEN,
      httpRestrictedApi: ["statistics,model-repository:admin-key=adm"],
      grpcRestrictedApi: "statistics:admin-key=adm",
    });
    http = server.urls.http!;
  });
  afterAll(() => server?.close());

  const infer = (headers: Record<string, string>) =>
    fetch(`${http}/v2/models/simple/infer`, {
      method: "POST",
      headers,
      body: JSON.stringify(simpleRequest),
    });

  it("answers 401 with WWW-Authenticate without a token or with a wrong one", async () => {
    for (const headers of [
      {},
      { Authorization: "Bearer nope" },
      { Authorization: TOKEN },
      { Authorization: `Basic ${TOKEN}` },
    ]) {
      const res = await infer(headers);
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toBe("Bearer");
      expect(((await res.json()) as { error: string }).error).toMatch(/bearer token/);
    }
    expect((await fetch(`${http}/v2/health/ready`)).status).toBe(401);
    expect((await fetch(`${http}/v2`)).status).toBe(401);
    expect((await fetch(`${http}/`)).status).toBe(401); // the dashboard
  });

  it("serves with the token", async () => {
    expect((await infer(bearer)).status).toBe(200);
    expect((await fetch(`${http}/v2/health/ready`, { headers: bearer })).status).toBe(200);
  });

  it("answers 403 for a restricted API without its header, even with the token", async () => {
    const stats = (h: Record<string, string>) => fetch(`${http}/v2/models/stats`, { headers: h });
    expect((await stats(bearer)).status).toBe(403);
    expect((await stats({ ...bearer, "admin-key": "wrong" })).status).toBe(403);
    const ok = await stats({ ...bearer, "admin-key": "adm" });
    expect(ok.status).toBe(200);
    const index = await fetch(`${http}/v2/repository/index`, { method: "POST", headers: bearer, body: "{}" });
    expect(index.status).toBe(403);
    expect(((await index.json()) as { error: string }).error).toMatch(/expecting header 'admin-key'/);
  });

  it("answers gRPC UNAUTHENTICATED and PERMISSION_DENIED the same way", async () => {
    const client = inferenceClient(server.urls.grpc!);
    const md = (extra: Record<string, string> = {}) => {
      const m = new Metadata();
      m.set("authorization", `Bearer ${TOKEN}`);
      for (const [k, v] of Object.entries(extra)) m.set(k, v);
      return m;
    };
    try {
      await expect(client.call("ServerLive", {})).rejects.toMatchObject({ code: 16 });
      const bad = new Metadata();
      bad.set("authorization", "Bearer nope");
      await expect(client.call("ModelMetadata", { name: "simple" }, { metadata: bad })).rejects.toMatchObject(
        {
          code: 16,
        },
      );
      expect(await client.call("ServerLive", {}, { metadata: md() })).toEqual({ live: true });
      await expect(client.call("ModelStatistics", {}, { metadata: md() })).rejects.toMatchObject({ code: 7 });
      const stats = await client.call("ModelStatistics", {}, { metadata: md({ "admin-key": "adm" }) });
      expect(stats.model_stats.length).toBeGreaterThan(0);
      // model-repository is restricted over HTTP only here
      expect((await client.call("RepositoryIndex", {}, { metadata: md() })).models.length).toBe(1);
    } finally {
      client.close();
    }
    const health = healthClient(server.urls.grpc!);
    try {
      await expect(health.check("")).rejects.toMatchObject({ code: 16 });
    } finally {
      health.close();
    }
  });
});

describe("health endpoints open for probes when asked", () => {
  it("answers health without the token and everything else only with it", async () => {
    const server = await startServer([simpleModel], { grpc: 0, authToken: TOKEN, authOpenHealth: true });
    try {
      const http = server.urls.http!;
      expect((await fetch(`${http}/v2/health/live`)).status).toBe(200);
      expect((await fetch(`${http}/v2/health/ready`)).status).toBe(200);
      expect((await fetch(`${http}/v2/models/simple/ready`)).status).toBe(200);
      expect((await fetch(`${http}/v2/models/simple`)).status).toBe(401);
      const health = healthClient(server.urls.grpc!);
      expect(await health.check("")).toEqual({ status: "SERVING" });
      health.close();
      const client = inferenceClient(server.urls.grpc!);
      expect(await client.call("ServerReady", {})).toEqual({ ready: true });
      await expect(client.call("ServerMetadata", {})).rejects.toMatchObject({ code: 16 });
      client.close();
    } finally {
      await server.close();
    }
  });
});
