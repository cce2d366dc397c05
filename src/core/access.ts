import { UnauthenticatedError } from "./errors.js";
import { type ApiGroup, type ApiRestriction, checkRestricted, sameSecret } from "./restricted-api.js";

/**
 * Who may call what, the same for every frontend. Two independent checks, both optional:
 *
 * - a bearer token (`Authorization: Bearer <token>`, gRPC metadata `authorization`) for every
 *   API, health excepted when `openHealth` is set (so probes need no secret);
 * - Triton's restricted APIs (restricted-api.ts): `API[,API]:KEY=VALUE` makes those API groups
 *   require the header (gRPC metadata) KEY with value VALUE.
 *
 * Frontends name the group of each route or RPC and call `check()` before doing anything else.
 *
 * @example
 * const access = new AccessControl({ token: "t", restricted: [parseRestrictedApi("statistics:k=v")] });
 * access.check("inference", (name) => req.headers[name]);
 */

export interface AccessOptions {
  /** Bearer token every request must carry; undefined: none needed. */
  readonly token?: string | undefined;
  /** Health (live, ready, model ready, grpc.health.v1) answers without the token. */
  readonly openHealth?: boolean | undefined;
  readonly restricted?: readonly ApiRestriction[] | undefined;
}

/** Reads a request header (or gRPC metadata) by lower-case name. */
export type HeaderReader = (name: string) => unknown;

export class AccessControl {
  readonly #token: string | undefined;
  readonly #openHealth: boolean;
  readonly #restricted: readonly ApiRestriction[];

  constructor(options: AccessOptions = {}) {
    this.#token = options.token === "" ? undefined : options.token;
    this.#openHealth = options.openHealth ?? false;
    this.#restricted = options.restricted ?? [];
  }

  /** Whether any check is configured (frontends skip the header reads otherwise). */
  get enabled(): boolean {
    return this.#token !== undefined || this.#restricted.length > 0;
  }

  /** Throws UnauthenticatedError (no or wrong token) or PermissionDeniedError (restricted API). */
  check(group: ApiGroup, header: HeaderReader): void {
    if (this.#token !== undefined && !(group === "health" && this.#openHealth)) {
      const auth = text(header("authorization"));
      const m = auth === undefined ? null : /^Bearer +(\S+) *$/i.exec(auth);
      if (m === null || !sameSecret(m[1]!, this.#token))
        throw new UnauthenticatedError("missing or invalid bearer token (Authorization: Bearer <token>)");
    }
    checkRestricted(this.#restricted, group, header);
  }
}

function text(v: unknown): string | undefined {
  const first = Array.isArray(v) ? v[0] : v;
  return typeof first === "string" ? first : Buffer.isBuffer(first) ? first.toString("utf8") : undefined;
}
