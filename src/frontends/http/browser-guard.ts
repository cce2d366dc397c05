import type { IncomingMessage } from "node:http";
import { PermissionDeniedError, UnsupportedMediaTypeError } from "../../core/errors.js";

/**
 * What a web page in a browser must not be able to do to a server on the same machine.
 *
 * - DNS rebinding: a page from evil.example re-resolves its name to 127.0.0.1 and then talks
 *   to the loopback server as same-origin. Its requests still carry `Host: evil.example`, so a
 *   loopback server answers only requests whose Host is one of its own names (plus an
 *   allow-list, for names that proxies or /etc/hosts give it).
 * - Cross-site form posts: a form (or `fetch` with `mode: "no-cors"`) may POST `text/plain`,
 *   `application/x-www-form-urlencoded` or `multipart/form-data` to any origin without a CORS
 *   preflight. A browser request (it carries `Origin` or `Sec-Fetch-Site`) with such a body is
 *   refused unless allowed; curl and the Triton clients send no `Origin`, so they are unaffected.
 *
 * No CORS headers are ever sent, so other origins cannot read any answer.
 */
export interface BrowserGuardOptions {
  /** Check the Host header (on when the server listens on loopback only). */
  readonly checkHost: boolean;
  /** Host names accepted besides localhost, 127.0.0.1 and ::1 (lower case, no port). */
  readonly allowedHosts: readonly string[];
  /** Accept form-encodable bodies from browsers (default false). */
  readonly allowBrowserForms: boolean;
}

const LOOPBACK_NAMES = new Set(["localhost", "127.0.0.1", "::1"]);
const FORM_TYPES = new Set(["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]);

/** Throws PermissionDeniedError (403) for a foreign Host, UnsupportedMediaTypeError (415) for a browser form post. */
export function checkBrowserRequest(req: IncomingMessage, options: BrowserGuardOptions): void {
  if (options.checkHost) {
    // Browsers always send Host; an HTTP/1.0 health check (HAProxy's httpchk) may not.
    const host = hostName(req.headers.host);
    if (host !== undefined && !(LOOPBACK_NAMES.has(host) || options.allowedHosts.includes(host)))
      throw new PermissionDeniedError(
        `Host '${(req.headers.host ?? "").slice(0, 100)}' is not one of this server's names; the server listens on loopback (allow more with --allowed-host)`,
      );
  }
  if (!options.allowBrowserForms && req.method === "POST" && fromBrowser(req)) {
    const type = (req.headers["content-type"] ?? "text/plain").split(";")[0]!.trim().toLowerCase();
    if (FORM_TYPES.has(type))
      throw new UnsupportedMediaTypeError(
        `a browser request with a ${type} body is refused (a cross-site form could send it); send application/json or application/octet-stream`,
      );
  }
}

/** The host name of a Host header, lower case, without the port or IPv6 brackets. */
function hostName(header: string | undefined): string | undefined {
  if (header === undefined || header === "") return undefined;
  const h = header.trim().toLowerCase();
  if (h.startsWith("[")) {
    const end = h.indexOf("]");
    return end === -1 ? undefined : h.slice(1, end);
  }
  const colon = h.indexOf(":");
  return (colon === -1 ? h : h.slice(0, colon)).replace(/\.$/, "");
}

function fromBrowser(req: IncomingMessage): boolean {
  const site = req.headers["sec-fetch-site"];
  return req.headers.origin !== undefined || (site !== undefined && site !== "none");
}
