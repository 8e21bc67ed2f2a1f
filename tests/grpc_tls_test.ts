/**
 * gRPC over TLS and mTLS with a throw-away openssl PKI (`helpers/tls_pki.ts`): our server with
 * `client_auth` none / optional / require against our client with and without a client
 * certificate and with a certificate from an untrusted CA; `verify: false` against a server
 * whose certificate no trusted CA signed; IP-literal and host-name targets (the IP is checked
 * against the certificate's IP SAN).
 *
 * @module
 */
import assert from "node:assert/strict";
import { PluginContext, PluginError, type TlsConfig } from "../mod.ts";
import type { GrpcExternalPlugin } from "../src/external/grpc/client.ts";
import {
  connectPlugin,
  FAST_BACKOFF,
  type RunningGrpcServer,
  settleBackoffTimers,
  startGrpcServer,
} from "./helpers/grpc_fixtures.ts";
import { ScriptedPlugin } from "./helpers/plugins.ts";
import { createTestPki, type TestPki } from "./helpers/tls_pki.ts";

function allow(): ScriptedPlugin {
  return new ScriptedPlugin({ name: "Allow", hooks: ["tool_pre_invoke"] });
}

async function serveTls(pki: TestPki, tls: TlsConfig, cert = "server"): Promise<RunningGrpcServer> {
  return await startGrpcServer([allow()], {
    host: "127.0.0.1",
    port: 0,
    tls: {
      certfile: cert === "server" ? pki.serverCert : pki.rogueServerCert,
      keyfile: cert === "server" ? pki.serverKey : pki.rogueServerKey,
      ...tls,
    },
  });
}

/** Connects with `tls` and makes one call; returns "ok" or the PluginError message. */
async function attempt(address: string, tls: TlsConfig): Promise<string> {
  let plugin: GrpcExternalPlugin | null = null;
  try {
    plugin = await connectPlugin(address, { name: "Allow", grpc: { target: address, tls } }, {
      retryDelaysMs: [],
      channelOptions: FAST_BACKOFF,
    });
    const result = await plugin.handleHook(
      "tool_pre_invoke",
      { name: "t", args: {} },
      new PluginContext({ request_id: "r" }),
      { signal: new AbortController().signal, extensions: null },
    );
    return result.continue_processing ? "ok" : "blocked";
  } catch (error) {
    assert.ok(error instanceof PluginError, String(error));
    return error.error.message;
  } finally {
    await plugin?.shutdown();
  }
}

const refused = /connection failed after 1 attempts: .*UNAVAILABLE/;

Deno.test("gRPC TLS: client_auth none, optional and require mean what they say", async (t) => {
  await using pki = await createTestPki();
  const clients: Record<string, TlsConfig> = {
    "no client cert": { ca_bundle: pki.caCert },
    "trusted client cert": {
      ca_bundle: pki.caCert,
      certfile: pki.clientCert,
      keyfile: pki.clientKey,
    },
    "client cert from an untrusted CA": {
      ca_bundle: pki.caCert,
      certfile: pki.rogueClientCert,
      keyfile: pki.rogueClientKey,
    },
  };
  const expected: Record<string, Record<string, boolean>> = {
    none: {
      "no client cert": true,
      "trusted client cert": true,
      "client cert from an untrusted CA": true,
    },
    optional: {
      "no client cert": true,
      "trusted client cert": true,
      "client cert from an untrusted CA": false,
    },
    require: {
      "no client cert": false,
      "trusted client cert": true,
      "client cert from an untrusted CA": false,
    },
  };
  for (const mode of ["none", "optional", "require"]) {
    await t.step(`client_auth: ${mode}`, async () => {
      const server = await serveTls(pki, {
        ca_bundle: mode === "none" ? null : pki.caCert,
        client_auth: mode,
      });
      try {
        for (const [label, tls] of Object.entries(clients)) {
          const outcome = await attempt(server.address, tls);
          if (expected[mode][label]) assert.equal(outcome, "ok", `${mode} / ${label}`);
          else assert.match(outcome, refused, `${mode} / ${label}`);
        }
      } finally {
        await server.close();
      }
    });
  }
  await settleBackoffTimers(250);
});

Deno.test("gRPC TLS: a plaintext client cannot talk to a TLS server, nor a TLS client to a plaintext one", async () => {
  await using pki = await createTestPki();
  const tlsServer = await serveTls(pki, { client_auth: "none" });
  const plain = await startGrpcServer([allow()]);
  try {
    const plainToTls = await connectPlugin(tlsServer.address, { name: "Allow" }, {
      retryDelaysMs: [],
      channelOptions: FAST_BACKOFF,
    }).catch((e) => e);
    assert.ok(plainToTls instanceof PluginError);
    assert.equal(
      await attempt(plain.address, { ca_bundle: pki.caCert }).then((m) => refused.test(m)),
      true,
    );
  } finally {
    await tlsServer.close();
    await plain.close();
    await settleBackoffTimers(250);
  }
});

Deno.test("gRPC TLS: verify false really skips verification; verify true refuses an unknown CA", async () => {
  await using pki = await createTestPki();
  // The server's certificate is signed by the rogue CA, which the client does not trust.
  const server = await serveTls(pki, { client_auth: "none" }, "rogue");
  try {
    assert.match(await attempt(server.address, { ca_bundle: pki.caCert }), refused);
    assert.match(await attempt(server.address, {}), refused, "default roots do not know it");
    assert.equal(await attempt(server.address, { verify: false }), "ok");
    assert.equal(
      await attempt(server.address, { verify: false, ca_bundle: pki.caCert }),
      "ok",
      "the CA bundle is ignored when verify is false",
    );
  } finally {
    await server.close();
    await settleBackoffTimers(250);
  }
});

Deno.test("gRPC TLS: IP-literal targets are checked against the IP SAN, host names against DNS SANs", async () => {
  await using pki = await createTestPki();
  const server = await serveTls(pki, { client_auth: "none" });
  try {
    const port = server.address.split(":")[1];
    assert.equal(await attempt(`127.0.0.1:${port}`, { ca_bundle: pki.caCert }), "ok");
    assert.equal(await attempt(`localhost:${port}`, { ca_bundle: pki.caCert }), "ok");
  } finally {
    await server.close();
  }
  // A certificate without the IP SAN: the IP target is refused, the host name still works.
  const dir = pki.dir;
  const run = async (args: string[]) => {
    const out = await new Deno.Command("openssl", {
      args,
      cwd: dir,
      stdout: "null",
      stderr: "piped",
    })
      .output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
  };
  await run([
    "genpkey",
    "-algorithm",
    "EC",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-out",
    "dns.key",
  ]);
  await run(["req", "-new", "-key", "dns.key", "-subj", "/CN=localhost", "-out", "dns.csr"]);
  await Deno.writeTextFile(
    `${dir}/dns.ext`,
    "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n" +
      "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost\n",
  );
  await run([
    "x509",
    "-req",
    "-in",
    "dns.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-set_serial",
    "0x77",
    "-days",
    "1",
    "-extfile",
    "dns.ext",
    "-out",
    "dns.crt",
  ]);
  const dnsOnly = await startGrpcServer([allow()], {
    host: "127.0.0.1",
    port: 0,
    tls: { certfile: `${dir}/dns.crt`, keyfile: `${dir}/dns.key`, client_auth: "none" },
  });
  try {
    const port = dnsOnly.address.split(":")[1];
    assert.match(await attempt(`127.0.0.1:${port}`, { ca_bundle: pki.caCert }), refused);
    assert.equal(await attempt(`localhost:${port}`, { ca_bundle: pki.caCert }), "ok");
  } finally {
    await dnsOnly.close();
    await settleBackoffTimers(250);
  }
});

Deno.test("gRPC TLS: require or optional without a CA bundle fails at start-up, naming the fix", async () => {
  await using pki = await createTestPki();
  for (const mode of ["require", "optional"]) {
    await assert.rejects(serveTls(pki, { client_auth: mode }), /needs tls\.ca_bundle/);
  }
});
