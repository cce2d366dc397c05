import { readFileSync } from "node:fs";
import type { ServerOptions } from "node:https";

/** TLS for the HTTP port: PEM files; with a CA, clients must present a certificate it signed. */
export interface HttpTlsOptions {
  readonly certFile: string;
  readonly keyFile: string;
  /** When set, clients must present a certificate signed by this CA (mutual TLS). */
  readonly caFile?: string | undefined;
}

/** node:https options from the files (read at start, so a bad path fails the start, not a request). */
export function httpsOptions(tls: HttpTlsOptions): ServerOptions {
  const mutual = tls.caFile !== undefined;
  return {
    cert: readFileSync(tls.certFile),
    key: readFileSync(tls.keyFile),
    ...(mutual && { ca: readFileSync(tls.caFile!), requestCert: true, rejectUnauthorized: true }),
    minVersion: "TLSv1.2",
  };
}
