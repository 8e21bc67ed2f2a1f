import assert from "node:assert/strict";
import { ConfigError } from "../src/errors.ts";
import { readEnv } from "../src/config/env.ts";
import { readSettings, type SettingKey, settingVariables } from "../src/config/settings.ts";
import {
  grpcClientTlsFromEnv,
  grpcServerConfigFromEnv,
  mcpClientTlsFromEnv,
  mcpServerConfigFromEnv,
} from "../src/config/from_env.ts";
import { withEnv } from "./config_test_helpers.ts";

/** Every variable the settings read, unset, so tests start from the defaults. */
const ALL_UNSET: Record<string, undefined> = Object.fromEntries(
  Object.keys(readSettings()).flatMap((k) => settingVariables(k as SettingKey))
    .map((v) => [v, undefined]),
);

const clean = <T>(vars: Record<string, string | undefined>, fn: () => T) =>
  withEnv({ ...ALL_UNSET, ...vars }, fn);

Deno.test("settings defaults match the reference, except fail_on_plugin_error (fail closed)", async () => {
  await clean({}, () => {
    const s = readSettings();
    assert.equal(s.enabled, false);
    assert.equal(s.configFile, "plugins/config.yaml");
    assert.equal(s.pluginTimeout, 30);
    assert.equal(s.failOnPluginError, true); // the reference: false (issue 12)
    assert.equal(s.executionPool, 10);
    assert.equal(s.defaultHookPolicy, "allow");
    assert.equal(s.ssrfProtectionEnabled, true);
    assert.equal(s.logLevel, "INFO");
    assert.equal(s.skipSslVerify, false);
    assert.equal(s.httpxMaxConnections, 200);
    assert.equal(s.httpxMaxKeepaliveConnections, 100);
    assert.equal(s.httpxKeepaliveExpiry, 30);
    assert.equal(s.httpxConnectTimeout, 5);
    assert.equal(s.httpxReadTimeout, 120);
    assert.equal(s.httpxWriteTimeout, 30);
    assert.equal(s.httpxPoolTimeout, 10);
    assert.equal(s.cliCompletion, false);
    assert.equal(s.cliMarkupMode, null);
    assert.equal(s.clientMtlsCertfile, null);
    assert.equal(s.clientMtlsVerify, null);
    assert.equal(s.serverPort, null);
    assert.equal(s.serverSslEnabled, null);
    assert.equal(s.grpcServerPort, null);
    assert.equal(s.unixSocketPath, null);
    assert.equal(s.configPath, null);
    assert.equal(s.transport, null);
  });
});

Deno.test("settings are read from PLUGINS_* variables with their types", async () => {
  await clean({
    PLUGINS_CONFIG_FILE: "/etc/cpex/config.yaml",
    PLUGINS_PLUGIN_TIMEOUT: "5",
    PLUGINS_FAIL_ON_PLUGIN_ERROR: "true",
    PLUGINS_EXECUTION_POOL: "0",
    PLUGINS_DEFAULT_HOOK_POLICY: "deny",
    PLUGINS_LOG_LEVEL: "DEBUG",
    PLUGINS_HTTPX_READ_TIMEOUT: "2.5",
    PLUGINS_CLI_MARKUP_MODE: "rich",
    PLUGINS_SERVER_PORT: "8443",
    PLUGINS_SERVER_SSL_CERT_REQS: "1",
    PLUGINS_GRPC_SERVER_HOST: "0.0.0.0",
    PLUGINS_TRANSPORT: "grpc",
  }, () => {
    const s = readSettings();
    assert.equal(s.configFile, "/etc/cpex/config.yaml");
    assert.equal(s.pluginTimeout, 5);
    assert.equal(s.failOnPluginError, true);
    assert.equal(s.executionPool, 0);
    assert.equal(s.defaultHookPolicy, "deny");
    assert.equal(s.logLevel, "DEBUG");
    assert.equal(s.httpxReadTimeout, 2.5);
    assert.equal(s.cliMarkupMode, "rich");
    assert.equal(s.serverPort, 8443);
    assert.equal(s.serverSslCertReqs, 1);
    assert.equal(s.grpcServerHost, "0.0.0.0");
    assert.equal(s.transport, "grpc");
  });
});

Deno.test("boolean settings accept true/false, 1/0, yes/no and on/off in any case", async () => {
  const cases: [string, boolean][] = [
    ["true", true],
    ["FALSE", false],
    ["1", true],
    ["0", false],
    ["yes", true],
    ["No", false],
    ["on", true],
    [" off ", false],
  ];
  for (const [raw, expected] of cases) {
    await clean({ PLUGINS_FAIL_ON_PLUGIN_ERROR: raw, PLUGINS_CLIENT_MTLS_VERIFY: raw }, () => {
      const s = readSettings();
      assert.equal(s.failOnPluginError, expected, raw);
      assert.equal(s.clientMtlsVerify, expected, raw);
    });
  }
});

Deno.test("an empty variable means unset", async () => {
  await clean({
    PLUGINS_SERVER_PORT: "",
    PLUGINS_SERVER_SSL_ENABLED: "",
    PLUGINS_CLIENT_MTLS_CHECK_HOSTNAME: "",
    PLUGINS_PLUGIN_TIMEOUT: "",
    PLUGINS_SERVER_HOST: "",
  }, () => {
    const s = readSettings();
    assert.equal(s.serverPort, null);
    assert.equal(s.serverSslEnabled, null);
    assert.equal(s.clientMtlsCheckHostname, null);
    assert.equal(s.pluginTimeout, 30);
    assert.equal(s.serverHost, null);
  });
});

Deno.test("PLUGINS_ENABLED is true only for 1, true, yes or on", async () => {
  for (
    const [raw, expected] of [
      ["1", true],
      [" TRUE ", true],
      ["yes", true],
      ["On", true],
      ["enabled", false],
      ["0", false],
      ["", false],
    ] as const
  ) {
    await clean(
      { PLUGINS_ENABLED: raw },
      () => assert.equal(readSettings().enabled, expected, raw),
    );
  }
});

Deno.test("UNIX_SOCKET_PATH is an alias of PLUGINS_UNIX_SOCKET_PATH", async () => {
  await clean({ UNIX_SOCKET_PATH: "/tmp/alias.sock" }, () => {
    assert.equal(readSettings().unixSocketPath, "/tmp/alias.sock");
  });
  await clean(
    { UNIX_SOCKET_PATH: "/tmp/alias.sock", PLUGINS_UNIX_SOCKET_PATH: "/tmp/main.sock" },
    () => {
      assert.equal(readSettings().unixSocketPath, "/tmp/main.sock");
    },
  );
});

Deno.test("a malformed unrelated variable does not break other settings", async () => {
  await clean({ PLUGINS_SERVER_PORT: "abc", PLUGINS_PLUGIN_TIMEOUT: "7" }, () => {
    const s = readSettings();
    assert.equal(s.pluginTimeout, 7);
    assert.equal(s.executionPool, 10);
  });
});

Deno.test("a malformed setting throws a ConfigError naming the variable when read", async () => {
  await clean({ PLUGINS_PLUGIN_TIMEOUT: "abc" }, () => {
    const s = readSettings(); // does not throw yet
    try {
      void s.pluginTimeout;
      assert.fail("expected a ConfigError");
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.file, "environment");
      assert.deepEqual(e.issues, [{
        path: "PLUGINS_PLUGIN_TIMEOUT",
        message: 'expected a number of seconds greater than 0; got "abc"',
      }]);
    }
  });
});

Deno.test("out-of-range and unknown setting values are rejected", async () => {
  for (
    const [name, raw, key] of [
      ["PLUGINS_SERVER_PORT", "70000", "serverPort"],
      ["PLUGINS_EXECUTION_POOL", "-1", "executionPool"],
      ["PLUGINS_DEFAULT_HOOK_POLICY", "maybe", "defaultHookPolicy"],
      ["PLUGINS_FAIL_ON_PLUGIN_ERROR", "sure", "failOnPluginError"],
      ["PLUGINS_CLI_MARKUP_MODE", "html", "cliMarkupMode"],
    ] as const
  ) {
    await clean({ [name]: raw }, () => {
      assert.throws(
        () => readSettings()[key],
        (e: unknown) => e instanceof ConfigError && e.issues[0].path === name,
      );
    });
  }
});

Deno.test("settings see variables changed before readSettings is called again", async () => {
  await clean({ PLUGINS_EXECUTION_POOL: "3" }, async () => {
    const first = readSettings();
    assert.equal(first.executionPool, 3);
    await withEnv({ PLUGINS_EXECUTION_POOL: "4" }, () => {
      assert.equal(first.executionPool, 3); // cached in that object
      assert.equal(readSettings().executionPool, 4);
    });
  });
});

Deno.test("readEnv returns the value of a readable variable and undefined when unset", async () => {
  await withEnv({ CPEX_READ_ENV_TEST: "x", CPEX_READ_ENV_UNSET: undefined }, () => {
    assert.equal(readEnv("CPEX_READ_ENV_TEST"), "x");
    assert.equal(readEnv("CPEX_READ_ENV_UNSET"), undefined);
    assert.equal(readEnv("NOT=VALID"), undefined);
  });
});

// ---- blocks built from the environment -------------------------------------------------------

Deno.test("client TLS from env is null when no variable is set", async () => {
  await clean({}, () => {
    assert.equal(mcpClientTlsFromEnv(), null);
    assert.equal(grpcClientTlsFromEnv(), null);
    assert.equal(mcpServerConfigFromEnv(), null);
    assert.equal(grpcServerConfigFromEnv(), null);
  });
});

Deno.test("client TLS from env is validated and names the variable on error", async () => {
  await clean({ PLUGINS_CLIENT_MTLS_VERIFY: "false" }, () => {
    assert.deepEqual(mcpClientTlsFromEnv(), {
      certfile: null,
      keyfile: null,
      ca_bundle: null,
      keyfile_password: null,
      verify: false,
      check_hostname: true,
    });
  });
  await clean({ PLUGINS_GRPC_CLIENT_MTLS_CA_BUNDLE: "/nonexistent/ca.pem" }, () => {
    assert.throws(
      () => grpcClientTlsFromEnv(),
      (e: unknown) =>
        e instanceof ConfigError && e.issues[0].path === "PLUGINS_GRPC_CLIENT_MTLS_CA_BUNDLE" &&
        /file not found/.test(e.issues[0].message),
    );
  });
});

Deno.test("server settings from env read TLS only when SSL is enabled", async () => {
  await clean({ PLUGINS_SERVER_PORT: "9000", PLUGINS_SERVER_SSL_CERT_REQS: "0" }, () => {
    assert.deepEqual(mcpServerConfigFromEnv(), {
      host: "127.0.0.1",
      port: 9000,
      uds: null,
      tls: null,
    });
  });
  await clean({
    PLUGINS_GRPC_SERVER_SSL_ENABLED: "true",
    PLUGINS_GRPC_SERVER_SSL_CLIENT_AUTH: "NONE",
  }, () => {
    const s = grpcServerConfigFromEnv();
    assert.equal(s?.port, 50051);
    assert.equal(s?.tls?.client_auth, "none");
  });
  await clean({
    PLUGINS_GRPC_SERVER_SSL_ENABLED: "true",
    PLUGINS_GRPC_SERVER_SSL_CLIENT_AUTH: "bad",
  }, () => {
    assert.throws(
      () => grpcServerConfigFromEnv(),
      (e: unknown) =>
        e instanceof ConfigError && e.issues[0].path === "PLUGINS_GRPC_SERVER_SSL_CLIENT_AUTH",
    );
  });
});

Deno.test("envValue tells an unset variable from its default", async () => {
  await clean({ PLUGINS_FAIL_ON_PLUGIN_ERROR: "no" }, () => {
    const s = readSettings();
    assert.equal(s.pluginTimeout, 30);
    assert.equal(s.envValue("pluginTimeout"), undefined);
    assert.equal(s.envValue("failOnPluginError"), false);
    assert.equal(s.envValue("enabled"), undefined);
  });
  await clean({ PLUGINS_PLUGIN_TIMEOUT: "abc", PLUGINS_ENABLED: "yes" }, () => {
    assert.throws(() => readSettings().envValue("pluginTimeout"), ConfigError);
    assert.equal(readSettings().envValue("enabled"), true);
  });
});
