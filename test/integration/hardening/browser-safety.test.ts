import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { simpleModel, simpleRequest } from "../../helpers/models.js";
import { startServer } from "../../helpers/server.js";

// Browser safety: a loopback server answers only its own Host names (DNS rebinding), sends no
// CORS headers, and refuses cross-site form posts (text/plain and form bodies from a browser).

/** A raw request with exactly these headers (fetch would add its own and forbids Host). */
function send(
  base: string,
  opts: { method?: string; path?: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: hostname,
        port,
        method: opts.method ?? "GET",
        path: opts.path ?? "/v2/health/ready",
        headers: opts.headers ?? {},
      },
      (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    req.end(opts.body);
  });
}

const infer = (headers: Record<string, string>) => ({
  method: "POST",
  path: "/v2/models/simple/infer",
  headers,
  body: JSON.stringify(simpleRequest),
});

describe("a server on loopback", () => {
  let base: string;
  let close: () => Promise<void>;
  beforeAll(async () => {
    const server = await startServer([simpleModel], { allowedHosts: ["tb.internal"] });
    base = server.urls.http!;
    close = () => server.close();
  });
  afterAll(() => close());

  it("answers its own names and the allowed ones", async () => {
    const port = new URL(base).port;
    for (const host of [
      `127.0.0.1:${port}`,
      `localhost:${port}`,
      "localhost",
      `[::1]:${port}`,
      "TB.internal:80",
    ])
      expect((await send(base, { headers: { Host: host } })).status, host).toBe(200);
  });

  it("refuses another Host (DNS rebinding) with 403, for every route and the dashboard", async () => {
    for (const path of ["/v2/health/ready", "/v2/models/simple", "/"]) {
      const r = await send(base, { path, headers: { Host: "evil.example:8000" } });
      expect(r.status, path).toBe(403);
      expect(r.body).toMatch(/Host 'evil.example:8000' is not one of this server's names/);
    }
    expect((await send(base, { ...infer({ Host: "rebind.attacker.test" }) })).status).toBe(403);
  });

  it("sends no CORS headers, to a preflight or a request with an Origin", async () => {
    const pre = await send(base, {
      method: "OPTIONS",
      path: "/v2/models/simple/infer",
      headers: { Origin: "https://evil.example", "Access-Control-Request-Method": "POST" },
    });
    expect(pre.status).toBeGreaterThanOrEqual(400);
    const get = await send(base, { headers: { Origin: "https://evil.example" } });
    for (const r of [pre, get])
      expect(Object.keys(r.headers).filter((h) => h.startsWith("access-control-"))).toEqual([]);
  });

  it("refuses text/plain and form bodies from a browser with 415, and serves other clients", async () => {
    for (const type of [
      "text/plain",
      "text/plain;charset=UTF-8",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
    ]) {
      const r = await send(base, infer({ "Content-Type": type, Origin: "https://evil.example" }));
      expect(r.status, type).toBe(415);
      expect(r.body).toMatch(/browser request with a .* body is refused/);
      expect((await send(base, infer({ "Content-Type": type, "Sec-Fetch-Site": "cross-site" }))).status).toBe(
        415,
      );
    }
    // JSON from a page needs a CORS preflight, which gets no CORS answer: the browser stops it.
    expect(
      (await send(base, infer({ "Content-Type": "application/json", Origin: "https://x.test" }))).status,
    ).toBe(200);
    // curl -d (form type, no Origin) and the Triton clients keep working.
    expect((await send(base, infer({ "Content-Type": "application/x-www-form-urlencoded" }))).status).toBe(
      200,
    );
    expect((await send(base, infer({}))).status).toBe(200);
  });
});

describe("options", () => {
  it("accept browser forms when told to", async () => {
    const server = await startServer([simpleModel], { allowBrowserForms: true });
    try {
      const r = await send(
        server.urls.http!,
        infer({ "Content-Type": "text/plain", Origin: "https://x.test" }),
      );
      expect(r.status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it("leave Host alone on a server exposed on all interfaces (a proxy may name it anything)", async () => {
    const server = await startServer([simpleModel], { host: "0.0.0.0" });
    try {
      const port = new URL(server.urls.http!).port;
      expect(
        (await send(`http://127.0.0.1:${port}`, { headers: { Host: "inference.example.com" } })).status,
      ).toBe(200);
    } finally {
      await server.close();
    }
  });
});
