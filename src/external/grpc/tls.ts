/**
 * TLS for the gRPC transport: server credentials for each `client_auth` mode and client
 * channel credentials and options. Every behaviour below was measured with grpc-js 1.14.7 under
 * Deno 2.9.6 against the test PKI of `tests/helpers/tls_pki.ts`:
 *
 * - `client_auth: none`: no certificate is requested. grpc-js's `createSsl(null, …)` leaves the
 *   server's `ca` unset, and Deno's TLS server then fails every handshake ("wrong version
 *   number"); we pass the CA bundle, or the server's own chain, which is unused when no client
 *   certificate is requested.
 * - `client_auth: require`: `createSsl(ca, …, true)`: a client without a certificate gets the
 *   `CertificateRequired` alert, one with a certificate from another CA is disconnected.
 * - `client_auth: optional`: grpc-js's `createSsl` has only require/none (the reference maps
 *   `optional` to none, wire.md §7.3). We make it mean what it says: the server requests a
 *   certificate without requiring one (`requestCert: true, rejectUnauthorized: false`), and a
 *   connection that *presents* a certificate that does not verify against the CA bundle is
 *   closed right after the handshake (OpenSSL's `SSL_VERIFY_PEER` without
 *   `FAIL_IF_NO_PEER_CERT`). Clients without a certificate are served; verified client
 *   identities are visible to handlers through `call.getAuthContext()`.
 * - Clients: an IP-literal target cannot be a TLS server name under Deno
 *   (`ERR_INVALID_ARG_VALUE`), so we set `grpc.ssl_target_name_override` and check the
 *   certificate against the IP ourselves (`tls.checkServerIdentity(ip, cert)`: an IP SAN is
 *   required, as with gRPC core). `verify: false` really disables verification
 *   (`rejectUnauthorized: false` and no identity check), unlike the reference, where it only
 *   drops the CA bundle.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { checkServerIdentity, type PeerCertificate } from "node:tls";
import type { TlsConfig } from "../../types.ts";
import type { GrpcJs } from "./grpc_js.ts";
import type * as GrpcJsModule from "@grpc/grpc-js";

/**
 * Server credentials and whether connections presenting an unverified client certificate must
 * be closed (`client_auth: optional`).
 */
export interface GrpcServerCredentials {
  /** What to bind with. */
  readonly credentials: GrpcJsModule.ServerCredentials;
  /** True for `client_auth: optional`. */
  readonly rejectUnverifiedPeers: boolean;
}

async function readFile(path: string): Promise<Buffer> {
  return Buffer.from(await Deno.readFile(path));
}

/**
 * Builds the server credentials for `tls` (null: insecure). `certfile` and `keyfile` are
 * required; `require` and `optional` need `ca_bundle`.
 */
export async function serverCredentials(
  grpc: GrpcJs,
  tls: TlsConfig | null,
): Promise<GrpcServerCredentials> {
  if (!tls) {
    return { credentials: grpc.ServerCredentials.createInsecure(), rejectUnverifiedPeers: false };
  }
  if (!tls.certfile || !tls.keyfile) {
    throw new Error("gRPC server TLS needs both tls.certfile and tls.keyfile");
  }
  const mode = (tls.client_auth ?? "require").toLowerCase();
  if (mode !== "none" && !tls.ca_bundle) {
    throw new Error(
      `gRPC server TLS with client_auth '${mode}' needs tls.ca_bundle to verify client ` +
        "certificates (set client_auth: none to accept clients without checking them)",
    );
  }
  const [cert, key, ca] = await Promise.all([
    readFile(tls.certfile),
    readFile(tls.keyfile),
    tls.ca_bundle ? readFile(tls.ca_bundle) : Promise.resolve(null),
  ]);
  const pair = [{ private_key: key, cert_chain: cert }];
  if (mode === "require") {
    return {
      credentials: grpc.ServerCredentials.createSsl(ca, pair, true),
      rejectUnverifiedPeers: false,
    };
  }
  if (mode === "none") {
    return {
      credentials: grpc.ServerCredentials.createSsl(ca ?? cert, pair, false),
      rejectUnverifiedPeers: false,
    };
  }
  if (mode !== "optional") {
    throw new Error(`gRPC server TLS client_auth must be none, optional or require; got '${mode}'`);
  }
  const credentials = grpc.ServerCredentials.createSsl(ca, pair, false);
  const internal = credentials as unknown as {
    _getConstructorOptions?: () => Record<string, unknown> | null;
  };
  const original = internal._getConstructorOptions;
  if (typeof original !== "function") {
    throw new Error("client_auth 'optional' is not supported by this grpc-js version");
  }
  internal._getConstructorOptions = () => ({
    ...original.call(credentials),
    requestCert: true,
    rejectUnauthorized: false,
  });
  return { credentials, rejectUnverifiedPeers: true };
}

interface TlsPeer {
  authorized: boolean;
  getPeerCertificate(): Record<string, unknown> | null;
  destroy(): void;
}

/**
 * Makes `server` close every TLS connection whose peer presented a certificate that did not
 * verify (the `optional` client-auth check). Hooks grpc-js's internal `createHttp2Server`,
 * which every bind goes through; throws if this grpc-js version lacks it.
 */
export function rejectUnverifiedPeers(server: GrpcJsModule.Server): void {
  type Http2Server = { prependListener(event: string, fn: (socket: TlsPeer) => void): void };
  const internal = server as unknown as {
    createHttp2Server?: (credentials: unknown) => Http2Server;
  };
  const original = internal.createHttp2Server;
  if (typeof original !== "function") {
    throw new Error("client_auth 'optional' is not supported by this grpc-js version");
  }
  internal.createHttp2Server = function (this: unknown, credentials: unknown): Http2Server {
    const http2Server = original.call(this, credentials);
    http2Server.prependListener("secureConnection", (socket) => {
      if (socket.authorized) return;
      const peer = socket.getPeerCertificate();
      // An empty object means no certificate was presented: allowed in optional mode.
      if (peer && Object.keys(peer).length > 0) socket.destroy();
    });
    return http2Server;
  };
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * Whether `host` is an IP literal (IPv4, or IPv6 with or without brackets).
 */
export function isIpLiteral(host: string): boolean {
  return IPV4.test(host) || host.includes(":");
}

/**
 * Channel credentials and options of a client.
 */
export interface GrpcChannelSetup {
  /** The credentials. */
  readonly credentials: GrpcJsModule.ChannelCredentials;
  /** Extra channel options (TLS name override for IP targets). */
  readonly options: Record<string, string | number>;
}

/**
 * Builds the client credentials for `tls` (null: insecure) towards `host`. The CA bundle (or
 * the default roots) verifies the server, and the host name or IP is checked against the
 * certificate, unless `verify` is false; a client certificate is sent when both `certfile` and
 * `keyfile` are set.
 */
export async function channelCredentials(
  grpc: GrpcJs,
  host: string,
  tls: TlsConfig | null,
): Promise<GrpcChannelSetup> {
  if (!tls) return { credentials: grpc.credentials.createInsecure(), options: {} };
  const verify = tls.verify !== false;
  const withClientCert = Boolean(tls.certfile && tls.keyfile);
  const [ca, cert, key] = await Promise.all([
    verify && tls.ca_bundle ? readFile(tls.ca_bundle) : Promise.resolve(null),
    withClientCert ? readFile(tls.certfile!) : Promise.resolve(null),
    withClientCert ? readFile(tls.keyfile!) : Promise.resolve(null),
  ]);
  const ip = isIpLiteral(host) ? host.replace(/^\[|\]$/g, "") : null;
  const options: Record<string, string | number> = {};
  // Deno refuses an IP address as TLS server name: send a placeholder name, check the IP.
  if (ip) options["grpc.ssl_target_name_override"] = "localhost";
  const verifyOptions: GrpcJsModule.VerifyOptions & { rejectUnauthorized?: boolean } = verify
    ? (ip
      ? {
        checkServerIdentity: (_name: string, peer: PeerCertificate) =>
          checkServerIdentity(ip, peer),
      }
      : {})
    : { rejectUnauthorized: false, checkServerIdentity: () => undefined };
  return {
    credentials: grpc.credentials.createSsl(ca, key, cert, verifyOptions),
    options,
  };
}
