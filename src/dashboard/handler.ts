import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { PageHandler } from "../frontends/http/server.js";
import { HISTORY_INTERVAL_MS, SnapshotHistory } from "./history.js";
import { type DashboardSource, dashboardSnapshot } from "./snapshot.js";

/**
 * The page's files ship in the package as `src/dashboard/assets` (like the .proto files), so the
 * page works offline and behind air gaps: nothing is fetched from a CDN.
 */
export const ASSETS_DIR = fileURLToPath(new URL("../../src/dashboard/assets/", import.meta.url));

const ASSETS: Readonly<Record<string, { file: string; type: string }>> = {
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/dashboard": { file: "index.html", type: "text/html; charset=utf-8" },
  "/dashboard/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/dashboard/dashboard.js": { file: "dashboard.js", type: "text/javascript; charset=utf-8" },
  "/dashboard/dashboard.css": { file: "dashboard.css", type: "text/css; charset=utf-8" },
  "/dashboard/favicon.svg": { file: "favicon.svg", type: "image/svg+xml" },
};

/** Only our own files and our own API: a page that cannot load anything else. */
const SECURITY_HEADERS = {
  "Content-Security-Policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
};

/**
 * The live dashboard: `GET /` serves the page, `GET /dashboard/api/snapshot` the numbers it
 * polls. Mounted on the HTTP port next to the /v2 routes; off with `dashboard: false`.
 *
 * @example
 * const pages = dashboardHandler({ telemetry, serverId: "tensorbind", isReady, urls });
 * new HttpFrontend(core, { ...options, pages }, log);
 */
export function dashboardHandler(src: DashboardSource): PageHandler {
  const cache = new Map<string, Buffer>();
  const asset = (file: string): Buffer => {
    let b = cache.get(file);
    if (b === undefined) {
      b = readFileSync(`${ASSETS_DIR}${file}`);
      cache.set(file, b);
    }
    return b;
  };
  const history = new SnapshotHistory(src);
  return (req, res, path) => {
    const method = req.method === "HEAD" ? "GET" : req.method;
    if (path === "/dashboard/api/snapshot" || path === "/dashboard/api/history") {
      if (method !== "GET") return false;
      const data =
        path === "/dashboard/api/history"
          ? { interval_ms: HISTORY_INTERVAL_MS, snapshots: history.list() }
          : dashboardSnapshot(src);
      const body = Buffer.from(JSON.stringify(data));
      res.writeHead(200, {
        "Content-Type": "application/json",
        "Content-Length": body.length,
        "Cache-Control": "no-store",
      });
      res.end(req.method === "HEAD" ? undefined : body);
      return true;
    }
    const a = ASSETS[path];
    if (a === undefined || method !== "GET") return false;
    const body = asset(a.file);
    res.writeHead(200, {
      "Content-Type": a.type,
      "Content-Length": body.length,
      "Cache-Control": "no-cache",
      ...SECURITY_HEADERS,
    });
    res.end(req.method === "HEAD" ? undefined : body);
    return true;
  };
}
