/**
 * A throw-away test PKI made with the `openssl` command in a fresh temporary directory: a CA,
 * a server certificate (SAN `localhost` and `127.0.0.1`), a client certificate signed by the
 * same CA, and a "rogue" client certificate signed by a second CA that no server trusts.
 * Keys are ECDSA P-256 (fast to generate); every certificate is X.509 v3 with the
 * extensions rustls-based TLS stacks insist on (CA basic constraints, key usage, SAN,
 * extended key usage).
 *
 * Shared by the gRPC and MCP transport tests. Needs `--allow-run=openssl`, write access to the
 * temporary directory and read access to the files it creates.
 *
 * @module
 */

/**
 * The files of a test PKI (absolute paths) and their PEM contents.
 *
 * @example
 * ```ts
 * import { createTestPki } from "./tls_pki.ts";
 * await using pki = await createTestPki();
 * console.log(pki.serverCert.endsWith("server.crt")); // true
 * ```
 */
export interface TestPki extends AsyncDisposable {
  /** The directory holding every file. */
  readonly dir: string;
  /** The trusted CA certificate. */
  readonly caCert: string;
  /** The trusted CA's private key. */
  readonly caKey: string;
  /** Server certificate (CN `localhost`, SAN `DNS:localhost`, `IP:127.0.0.1`), signed by the CA. */
  readonly serverCert: string;
  /** The server certificate's key. */
  readonly serverKey: string;
  /** Client certificate (CN `test-client`), signed by the CA. */
  readonly clientCert: string;
  /** The client certificate's key. */
  readonly clientKey: string;
  /** A second CA nobody trusts. */
  readonly rogueCaCert: string;
  /** A client certificate (CN `rogue-client`) signed by the rogue CA. */
  readonly rogueClientCert: string;
  /** The rogue client certificate's key. */
  readonly rogueClientKey: string;
  /** A server certificate for `localhost`/`127.0.0.1` signed by the rogue CA. */
  readonly rogueServerCert: string;
  /** The rogue server certificate's key. */
  readonly rogueServerKey: string;
  /** Reads one of the files as text. */
  read(path: string): Promise<string>;
  /** Removes the directory. */
  remove(): Promise<void>;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", {
    args,
    cwd: dir,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `openssl ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
}

async function newKey(dir: string, name: string): Promise<void> {
  await openssl(dir, [
    "genpkey",
    "-algorithm",
    "EC",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-out",
    `${name}.key`,
  ]);
}

async function newCa(dir: string, name: string, cn: string): Promise<void> {
  await newKey(dir, name);
  await openssl(dir, [
    "req",
    "-x509",
    "-new",
    "-key",
    `${name}.key`,
    "-sha256",
    "-days",
    "2",
    "-subj",
    `/CN=${cn}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
    "-out",
    `${name}.crt`,
  ]);
}

async function newLeaf(
  dir: string,
  name: string,
  ca: string,
  cn: string,
  usage: "serverAuth" | "clientAuth",
): Promise<void> {
  await newKey(dir, name);
  await openssl(dir, [
    "req",
    "-new",
    "-key",
    `${name}.key`,
    "-subj",
    `/CN=${cn}`,
    "-out",
    `${name}.csr`,
  ]);
  const ext = [
    "basicConstraints=critical,CA:FALSE",
    "keyUsage=critical,digitalSignature,keyEncipherment",
    `extendedKeyUsage=${usage}`,
    "authorityKeyIdentifier=keyid",
    usage === "serverAuth"
      ? "subjectAltName=DNS:localhost,IP:127.0.0.1"
      : `subjectAltName=DNS:${cn}`,
  ];
  await Deno.writeTextFile(`${dir}/${name}.ext`, ext.join("\n") + "\n");
  await openssl(dir, [
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    `${ca}.crt`,
    "-CAkey",
    `${ca}.key`,
    // A random serial per certificate (no shared serial file: leaves are signed in parallel).
    "-set_serial",
    `0x${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`,
    "-sha256",
    "-days",
    "2",
    "-extfile",
    `${name}.ext`,
    "-out",
    `${name}.crt`,
  ]);
}

/**
 * Generates the PKI in a new temporary directory (about half a second). Dispose it (or call
 * `remove()`) when done.
 *
 * @example
 * ```ts
 * import { createTestPki } from "./tls_pki.ts";
 * const pki = await createTestPki();
 * try {
 *   console.log((await pki.read(pki.caCert)).startsWith("-----BEGIN CERTIFICATE-----")); // true
 * } finally {
 *   await pki.remove();
 * }
 * ```
 */
export async function createTestPki(): Promise<TestPki> {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "cpex-pki-" });
  try {
    await Promise.all([newCa(dir, "ca", "cpex test CA"), newCa(dir, "rogue-ca", "rogue CA")]);
    await Promise.all([
      newLeaf(dir, "server", "ca", "localhost", "serverAuth"),
      newLeaf(dir, "client", "ca", "test-client", "clientAuth"),
      newLeaf(dir, "rogue-client", "rogue-ca", "rogue-client", "clientAuth"),
      newLeaf(dir, "rogue-server", "rogue-ca", "localhost", "serverAuth"),
    ]);
  } catch (error) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw error;
  }
  const remove = () => Deno.remove(dir, { recursive: true }).catch(() => {});
  return {
    dir,
    caCert: `${dir}/ca.crt`,
    caKey: `${dir}/ca.key`,
    serverCert: `${dir}/server.crt`,
    serverKey: `${dir}/server.key`,
    clientCert: `${dir}/client.crt`,
    clientKey: `${dir}/client.key`,
    rogueCaCert: `${dir}/rogue-ca.crt`,
    rogueClientCert: `${dir}/rogue-client.crt`,
    rogueClientKey: `${dir}/rogue-client.key`,
    rogueServerCert: `${dir}/rogue-server.crt`,
    rogueServerKey: `${dir}/rogue-server.key`,
    read: (path) => Deno.readTextFile(path),
    remove,
    [Symbol.asyncDispose]: remove,
  };
}
