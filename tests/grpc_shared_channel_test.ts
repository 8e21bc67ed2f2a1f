/**
 * The gateway's gRPC plugins share one channel (one HTTP/2 connection) per server (issue 13:
 * a channel per plugin cost the gateway memory per plugin). A counting TCP relay between the
 * gateway and a real plugin server shows how many connections the gateway opens; shutting one
 * plugin (or one of two managers) down must leave the others working on the same connection,
 * and the last one out closes it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parseConfig, type PluginConfigInput, PluginManager } from "../mod.ts";
import { FAST_BACKOFF, startGrpcServer, within } from "./helpers/grpc_fixtures.ts";
import { ScriptedPlugin } from "./helpers/plugins.ts";
import { GrpcExternalPlugin } from "../src/external/grpc/client.ts";

const HOOKS = ["tool_pre_invoke"];
const NAMES = ["P0", "P1", "P2", "P3", "P4"];

/** A TCP relay on port 0 to `target` that counts the connections it accepts and has open. */
class CountingRelay {
  accepted = 0;
  open = 0;
  readonly #listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  readonly #pipes = new Set<Promise<void>>();
  readonly #conns = new Set<Deno.Conn>();
  readonly #accepting: Promise<void>;

  constructor(readonly target: string) {
    this.#accepting = this.#accept();
  }

  get address(): string {
    return `127.0.0.1:${this.#listener.addr.port}`;
  }

  async #accept(): Promise<void> {
    const [hostname, port] = this.target.split(":");
    try {
      for await (const down of this.#listener) {
        this.accepted++;
        this.open++;
        const up = await Deno.connect({ hostname, port: Number(port) });
        this.#conns.add(down).add(up);
        const pipe = Promise.all([this.#copy(down, up), this.#copy(up, down)]).then(() => {
          this.open--;
          this.#pipes.delete(pipe);
        });
        this.#pipes.add(pipe);
      }
    } catch {
      // Listener closed.
    }
  }

  /** Copies `from` to `to` until either side ends, then closes both. */
  async #copy(from: Deno.Conn, to: Deno.Conn): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await from.read(buffer);
        if (n === null) break;
        let written = 0;
        while (written < n) written += await to.write(buffer.subarray(written, n));
      }
    } catch {
      // One side went away.
    }
    for (const conn of [from, to]) {
      if (this.#conns.delete(conn)) conn.close();
    }
  }

  async close(): Promise<void> {
    this.#listener.close();
    await this.#accepting;
    for (const conn of this.#conns) conn.close();
    this.#conns.clear();
    await Promise.all(this.#pipes);
  }
}

function entry(name: string, target: string): PluginConfigInput {
  return { name, kind: "external", hooks: HOOKS, grpc: { target } };
}

async function gateway(target: string, names: string[]): Promise<PluginManager> {
  const manager = new PluginManager(parseConfig({ plugins: names.map((n) => entry(n, target)) }), {
    logger: { warn: () => {}, info: () => {} },
  });
  await within(manager.initialize(), "gateway initialize");
  return manager;
}

/** Runs one hook call through `manager`; every plugin on it tags the metadata. */
async function call(manager: PluginManager, id: string): Promise<unknown> {
  const [result] = await within(
    manager.invokeHook("tool_pre_invoke", { name: "t", args: {} }, { request_id: id }),
    `call ${id}`,
  );
  return result.metadata;
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Runs `fn` with a server hosting the five tagging plugins behind a counting relay. */
async function withRelayedServer(fn: (relay: CountingRelay) => Promise<void>): Promise<void> {
  const plugins = NAMES.map((name) =>
    new ScriptedPlugin({ name, hooks: HOOKS }, () => ({ metadata: { [name]: true } }))
  );
  const server = await startGrpcServer(plugins);
  const relay = new CountingRelay(server.address);
  try {
    await fn(relay);
  } finally {
    await relay.close();
    await server.close();
  }
}

const ALL_TAGS = Object.fromEntries(NAMES.map((n) => [n, true]));

Deno.test("five gRPC plugins on one server share one connection; the last shutdown closes it", async () => {
  await withRelayedServer(async (relay) => {
    const manager = await gateway(relay.address, NAMES);
    try {
      assert.deepEqual(await call(manager, "a"), ALL_TAGS);
      await Promise.all(Array.from({ length: 20 }, (_, i) => call(manager, `c${i}`)));
      assert.equal(relay.accepted, 1, `${relay.accepted} connections for five plugins`);
    } finally {
      await within(manager.shutdown(), "shutdown");
    }
    await until(() => relay.open === 0, "the shared connection to close");
  });
});

Deno.test("one of two managers on the same server shuts down: the other keeps the connection", async () => {
  await withRelayedServer(async (relay) => {
    const first = await gateway(relay.address, NAMES.slice(0, 2));
    const second = await gateway(relay.address, NAMES.slice(2));
    try {
      assert.deepEqual(await call(first, "f1"), { P0: true, P1: true });
      assert.deepEqual(await call(second, "s1"), { P2: true, P3: true, P4: true });
      await within(first.shutdown(), "first shutdown");
      assert.deepEqual(await call(second, "s2"), { P2: true, P3: true, P4: true });
      assert.equal(relay.accepted, 1, `${relay.accepted} connections for two managers`);
      assert.equal(relay.open, 1);
    } finally {
      await within(first.shutdown(), "first shutdown");
      await within(second.shutdown(), "second shutdown");
    }
    await until(() => relay.open === 0, "the shared connection to close");
  });
});

Deno.test("plugins with different channel options get channels of their own", async () => {
  await withRelayedServer(async (relay) => {
    const plugins = [
      new GrpcExternalPlugin(entry("P0", relay.address), { retryDelaysMs: [10] }),
      new GrpcExternalPlugin(entry("P1", relay.address), {
        retryDelaysMs: [10],
        channelOptions: FAST_BACKOFF,
      }),
    ];
    try {
      await within(Promise.all(plugins.map((p) => p.initialize())), "initialize");
      assert.equal(relay.accepted, 2);
    } finally {
      await within(Promise.all(plugins.map((p) => p.shutdown())), "shutdown");
    }
    await until(() => relay.open === 0, "both connections to close");
  });
});
