import { readFileSync } from "node:fs";
import { ServerCredentials } from "@grpc/grpc-js";

/**
 * TLS settings for the gRPC port (--tls-cert-file, --tls-key-file, --tls-ca-file); without
 * them the server listens in plaintext, like Triton's default. Certificates are read only here.
 */
export interface GrpcTlsOptions {
  readonly certFile: string;
  readonly keyFile: string;
  /** When set, clients must present a certificate signed by this CA (mutual TLS). */
  readonly caFile?: string;
}

/** The one place gRPC server credentials are built. */
export function serverCredentials(tls?: GrpcTlsOptions): ServerCredentials {
  if (tls === undefined) return ServerCredentials.createInsecure();
  const ca = tls.caFile === undefined ? null : readFileSync(tls.caFile);
  const keyPair = { cert_chain: readFileSync(tls.certFile), private_key: readFileSync(tls.keyFile) };
  return ServerCredentials.createSsl(ca, [keyPair], tls.caFile !== undefined);
}
