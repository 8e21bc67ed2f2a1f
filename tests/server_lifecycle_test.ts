/**
 * The lifecycle every transport server shares (issue 10 item 2): `close()` is idempotent (the
 * transport's stop runs once, every caller waits for it), `finished` resolves after stop, `end()`
 * finishes without a stop, and bind errors name the address and transport (issue 12).
 *
 * @module
 */
import assert from "node:assert/strict";
import { bindError, listenTcp, startLifecycle } from "../src/external/server_lifecycle.ts";

Deno.test("close() runs the transport's stop once and finished resolves after it", async () => {
  let stops = 0;
  let stopped = false;
  const { handle } = await startLifecycle({
    transport: "test",
    address: "nowhere",
    printReady: false,
    async stop() {
      stops++;
      await new Promise((resolve) => setTimeout(resolve, 10));
      stopped = true;
    },
  });
  assert.equal(handle.address, "nowhere");
  await Promise.all([handle.close(), handle.close()]);
  await handle.close();
  assert.equal(stops, 1);
  assert.equal(stopped, true);
  await handle.finished;
});

Deno.test("end() finishes a server that stopped on its own; close() after it still stops once", async () => {
  let stops = 0;
  const lifecycle = await startLifecycle({
    transport: "test",
    address: "stdio",
    printReady: false,
    stop: () => {
      stops++;
      return Promise.resolve();
    },
  });
  lifecycle.end();
  lifecycle.end();
  await lifecycle.handle.finished;
  await lifecycle.handle.close();
  assert.equal(stops, 1);
});

Deno.test("a port clash names the address and the transport", () => {
  const first = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (first.addr as Deno.NetAddr).port;
    assert.throws(
      () => listenTcp("127.0.0.1", port, "grpc"),
      (e: Error) =>
        e instanceof Deno.errors.AddrInUse &&
        e.message === `address 127.0.0.1:${port} already in use (grpc)`,
    );
  } finally {
    first.close();
  }
  assert.equal(
    bindError(new Error("denied"), "[::1]:1", "http").message,
    "cannot bind [::1]:1 (http): denied",
  );
});
