import assert from "node:assert/strict";
import { checkGrpcTarget, checkUrl, ssrfProtectionEnabled } from "../src/config/url.ts";
import { grpcClientSchema } from "../src/config/transport_schema.ts";
import { withEnv } from "./config_test_helpers.ts";

const on = { ssrfProtection: true };
const off = { ssrfProtection: false };

Deno.test("url with a host name passes", () => {
  for (
    const url of [
      "http://localhost:3001/mcp",
      "https://plugins.example.com/mcp?x=1",
      "ws://localhost:8080",
      "WSS://Example.com/socket",
    ]
  ) assert.equal(checkUrl(url, on), undefined, url);
});

Deno.test("empty url is rejected", () => {
  assert.equal(checkUrl(""), "URL cannot be empty");
});

Deno.test("url longer than 2048 characters is rejected", () => {
  assert.match(checkUrl(`http://localhost/${"a".repeat(2048)}`) ?? "", /maximum length of 2048/);
});

Deno.test("url with a scheme other than http, https, ws, wss is rejected", () => {
  for (const url of ["ftp://host/x", "file:///etc/passwd", "localhost:3001/mcp", "grpc://h:1"]) {
    assert.match(
      checkUrl(url) ?? "",
      /must start with one of: http:\/\/, https:\/\/, ws:\/\/, wss:\/\//,
    );
  }
});

Deno.test("url embedding a dangerous protocol is rejected", () => {
  for (const url of ["http://host/?next=javascript:alert(1)", "http://host/data:text/html,x"]) {
    assert.match(checkUrl(url) ?? "", /dangerous protocol/, url);
  }
});

Deno.test("url with an IPv6 literal is rejected", () => {
  assert.match(checkUrl("http://[::1]:8000/mcp") ?? "", /IPv6/);
});

Deno.test("url with line breaks is rejected", () => {
  assert.match(checkUrl("http://host/a\r\nX-Injected: 1") ?? "", /line breaks/);
});

Deno.test("url with a space before the query is rejected", () => {
  assert.match(checkUrl("http://host/a b") ?? "", /spaces/);
  assert.equal(checkUrl("http://host/a?q=a b"), undefined);
});

Deno.test("url with credentials is rejected", () => {
  assert.match(checkUrl("http://user:secret@host/mcp") ?? "", /credentials/);
  assert.match(checkUrl("http://user@host/mcp") ?? "", /credentials/);
});

Deno.test("url port outside 1 to 65535 is rejected", () => {
  assert.match(checkUrl("http://host:0/mcp") ?? "", /port must be between 1 and 65535/);
  assert.match(checkUrl("http://host:70000/mcp") ?? "", /port must be between 1 and 65535/);
  assert.equal(checkUrl("http://host:65535/mcp"), undefined);
});

Deno.test("url with HTML or script patterns is rejected", () => {
  for (
    const url of [
      "http://host/<script>alert(1)</script>",
      "http://host/?x=<img src=x>",
      "http://host/?a=1&onload=alert(1)",
    ]
  ) assert.match(checkUrl(url) ?? "", /HTML tags or script patterns/, url);
  assert.equal(checkUrl("http://host/?one=1&session=2"), undefined);
});

Deno.test("url host 0.0.0.0 is rejected even without SSRF protection", () => {
  assert.match(checkUrl("http://0.0.0.0:8000/mcp", off) ?? "", /0\.0\.0\.0/);
});

Deno.test("private and loopback IPv4 literals are rejected while SSRF protection is on", () => {
  for (
    const host of [
      "127.0.0.1",
      "10.1.2.3",
      "172.16.0.1",
      "172.31.255.255",
      "192.168.1.1",
      "169.254.169.254",
    ]
  ) {
    assert.match(checkUrl(`http://${host}:8000/mcp`, on) ?? "", /private or loopback/, host);
    assert.equal(checkUrl(`http://${host}:8000/mcp`, off), undefined, host);
  }
  assert.equal(checkUrl("http://172.32.0.1/mcp", on), undefined);
  assert.equal(checkUrl("http://8.8.8.8/mcp", on), undefined);
});

Deno.test("numeric spellings of a loopback address are caught", () => {
  assert.match(
    checkUrl("http://2130706433/mcp", on) ?? "",
    /private or loopback IP address \(127\.0\.0\.1\)/,
  );
  assert.match(checkUrl("http://0x7f.1/mcp", on) ?? "", /127\.0\.0\.1/);
});

Deno.test("url messages start with the field name", () => {
  assert.equal(checkUrl("", { field: "mcp.url" }), "mcp.url cannot be empty");
});

Deno.test("SSRF protection is on unless PLUGINS_SSRF_PROTECTION_ENABLED is false", async () => {
  await withEnv({ PLUGINS_SSRF_PROTECTION_ENABLED: undefined }, () => {
    assert.equal(ssrfProtectionEnabled(), true);
  });
  for (
    const [value, expected] of [["false", false], ["0", false], ["OFF", false], ["true", true], [
      "",
      true,
    ], ["junk", true]] as const
  ) {
    await withEnv({ PLUGINS_SSRF_PROTECTION_ENABLED: value }, () => {
      assert.equal(ssrfProtectionEnabled(), expected, value);
    });
  }
});

Deno.test("url in 100.64.0.0/10 (carrier-grade NAT, incl. the 100.100.100.200 metadata address) is refused in every IPv4 spelling", () => {
  for (
    const url of [
      "http://100.100.100.200/latest/meta-data",
      "http://100.64.0.1:8000/mcp",
      "http://100.127.255.255/mcp",
      "http://1684300000/mcp", // decimal: 100.100.96.224
      "http://0x64646464/mcp", // hex
      "http://0144.0144.0144.0310/mcp", // octal: 100.100.100.200
    ]
  ) assert.match(checkUrl(url, on) ?? "", /private or loopback IP address/, url);
  for (const url of ["http://100.63.255.255/mcp", "http://100.128.0.0/mcp"]) {
    assert.equal(checkUrl(url, on), undefined, url);
  }
  assert.equal(checkUrl("http://100.100.100.200/", off), undefined);
});

Deno.test("gRPC targets get the URL rules' ranges in every spelling; loopback and host names pass; nothing is resolved", () => {
  const refused = [
    "10.0.0.1:50051",
    "172.16.0.1:50051",
    "192.168.1.1:50051",
    "169.254.169.254:80",
    "100.100.100.200:50051",
    "0x64646464:50051",
    "1684300000:50051",
    "0144.0144.0144.0310:50051",
    "[::ffff:100.100.100.200]:50051",
    "[::ffff:10.0.0.1]:50051",
    "[fe80::1]:50051",
    "[fd00::1]:50051",
    "[fc00::1]:50051",
  ];
  for (const target of refused) {
    assert.match(checkGrpcTarget(target, on) ?? "", /private, link-local or shared/, target);
    assert.equal(checkGrpcTarget(target, off), undefined, target);
  }
  for (const target of ["0.0.0.0:50051", "0:50051", "[::]:50051"]) {
    assert.match(checkGrpcTarget(target, off) ?? "", /unspecified IP address/, target);
  }
  for (
    const target of [
      "127.0.0.1:50051",
      "[::1]:50051",
      "[::ffff:127.0.0.1]:50051",
      "localhost:50051",
      "plugins.example.com:443",
      "8.8.8.8:50051",
      "[2001:db8::1]:50051",
    ]
  ) assert.equal(checkGrpcTarget(target, on), undefined, target);
});

Deno.test("a gRPC plugin config with a metadata-address target is refused by the schema", () => {
  const refused = grpcClientSchema.safeParse({ target: "100.100.100.200:50051" });
  assert.equal(refused.success, false);
  assert.match(JSON.stringify(refused.error?.issues), /private, link-local or shared/);
  assert.equal(grpcClientSchema.safeParse({ target: "127.0.0.1:50051" }).success, true);
});
