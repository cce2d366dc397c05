import type { ApiGroup } from "../../core/restricted-api.js";

/** The KServe v2 HTTP routes, matched on the path alone (query strings are ignored, as Triton does). */

export type RouteName =
  | "health_live"
  | "health_ready"
  | "server_metadata"
  | "model_metadata"
  | "model_ready"
  | "model_config"
  | "model_infer"
  | "model_stats"
  | "all_stats"
  | "repository_index"
  | "repository_load"
  | "repository_unload";

export interface RouteMatch {
  readonly route: RouteName;
  readonly method: "GET" | "POST";
  /** The API group access control (token, restricted APIs) judges the route by. */
  readonly group: ApiGroup;
  readonly model?: string;
  readonly version?: string;
}

const MODEL = "/v2/models/([^/]+)(?:/versions/([^/]+))?";

const TABLE: { re: RegExp; route: RouteName; method: "GET" | "POST"; group: ApiGroup }[] = [
  { re: /^\/v2\/health\/live\/?$/, route: "health_live", method: "GET", group: "health" },
  { re: /^\/v2\/health\/ready\/?$/, route: "health_ready", method: "GET", group: "health" },
  { re: /^\/v2\/?$/, route: "server_metadata", method: "GET", group: "metadata" },
  { re: /^\/v2\/models\/stats\/?$/, route: "all_stats", method: "GET", group: "statistics" },
  {
    re: /^\/v2\/repository\/index\/?$/,
    route: "repository_index",
    method: "POST",
    group: "model-repository",
  },
  {
    re: /^\/v2\/repository\/models\/([^/]+)\/load\/?$/,
    route: "repository_load",
    method: "POST",
    group: "model-repository",
  },
  {
    re: /^\/v2\/repository\/models\/([^/]+)\/unload\/?$/,
    route: "repository_unload",
    method: "POST",
    group: "model-repository",
  },
  { re: new RegExp(`^${MODEL}/ready/?$`), route: "model_ready", method: "GET", group: "health" },
  { re: new RegExp(`^${MODEL}/config/?$`), route: "model_config", method: "GET", group: "model-config" },
  { re: new RegExp(`^${MODEL}/infer/?$`), route: "model_infer", method: "POST", group: "inference" },
  { re: new RegExp(`^${MODEL}/stats/?$`), route: "model_stats", method: "GET", group: "statistics" },
  { re: new RegExp(`^${MODEL}/?$`), route: "model_metadata", method: "GET", group: "metadata" },
];

/** Matches a path; `undefined` means no such route (404). */
export function matchRoute(path: string): RouteMatch | undefined {
  for (const { re, route, method, group } of TABLE) {
    const m = re.exec(path);
    if (!m) continue;
    const model = m[1] !== undefined ? safeDecode(m[1]) : undefined;
    const version = m[2] !== undefined ? safeDecode(m[2]) : undefined;
    return {
      route,
      method,
      group,
      ...(model !== undefined ? { model } : {}),
      ...(version !== undefined ? { version } : {}),
    };
  }
  return undefined;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Path without the query string. */
export function pathOf(url: string | undefined): string {
  const u = url ?? "/";
  const q = u.indexOf("?");
  return q === -1 ? u : u.slice(0, q);
}
