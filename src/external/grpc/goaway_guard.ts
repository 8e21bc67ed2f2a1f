/**
 * A workaround for a Deno 2.9 `node:http2` crash (denoland/deno#36788) that kills a process
 * holding a gRPC connection when the peer sends GOAWAY, which every graceful gRPC server
 * shutdown does (grpc-js `tryShutdown`, grpcio `stop(grace)`).
 *
 * The cause: Deno's `node:http2` hands a received GOAWAY to JavaScript from inside nghttp2's
 * frame processing (`nghttp2_session_mem_recv`). Its handler emits `goaway` and then calls
 * `session.close()`; with no stream open, `close()` destroys the session at once, and the
 * native destroy frees the nghttp2 session (`nghttp2_session_del`) while nghttp2 is still
 * processing that frame. nghttp2 then walks the freed session's stream map
 * (`session_close_stream_on_goaway`) and the process aborts on
 * `find_stream_on_goaway_func: Assertion 'stream->closed_next == NULL'` or segfaults. Whether
 * it crashes depends on what reuses the freed memory, which is why a garbage collection before
 * the GOAWAY makes it near certain.
 *
 * The guard: every HTTP/2 session (client sessions from `http2.connect`, server sessions from
 * `http2.createServer` / `createSecureServer`) gets an instance-level `emit` that notices the
 * `goaway` event, which Deno emits synchronously before that `close()`. From then on the
 * session's `close()` and `destroy()` run one macrotask later, after nghttp2 has finished the
 * frame. A session that received GOAWAY accepts no new streams, so the delay changes nothing
 * else. Sessions that never receive GOAWAY are untouched.
 *
 * The guard patches the `node:http2` module object that grpc-js `require`s, once per process,
 * so it also protects any other `node:http2` user in the process. It is installed by
 * `loadGrpcJs()` before grpc-js is imported.
 *
 * @module
 */

/** Marks a session whose teardown is already deferred, and the patched module. */
const GUARDED = Symbol.for("@cpex/core/grpc/goaway-guard");

/**
 * The part of an `Http2Session` the guard touches.
 */
export interface GuardableSession {
  /** EventEmitter's emit. */
  emit(event: string | symbol, ...args: unknown[]): boolean;
  /** Graceful close. */
  close(...args: unknown[]): void;
  /** Immediate destroy. */
  destroy(...args: unknown[]): void;
}

/**
 * The `node:http2` functions the guard wraps.
 */
export interface Http2Factories {
  /** `http2.connect`. */
  connect: (...args: unknown[]) => unknown;
  /** `http2.createServer`. */
  createServer: (...args: unknown[]) => unknown;
  /** `http2.createSecureServer`. */
  createSecureServer: (...args: unknown[]) => unknown;
}

/**
 * Makes `session` defer its `close()` and `destroy()` by one macrotask once it has received
 * GOAWAY (idempotent). Returns the session.
 */
export function guardSession<T extends GuardableSession>(session: T): T {
  const target = session as T & { [GUARDED]?: boolean };
  if (target[GUARDED]) return session;
  target[GUARDED] = true;
  const emit = session.emit;
  let deferring = false;
  session.emit = function (this: T, event: string | symbol, ...args: unknown[]): boolean {
    if (event === "goaway" && !deferring) {
      deferring = true;
      const close = session.close;
      const destroy = session.destroy;
      session.close = (...closeArgs: unknown[]) =>
        void setTimeout(() => close.apply(session, closeArgs), 0);
      session.destroy = (...destroyArgs: unknown[]) =>
        void setTimeout(() => destroy.apply(session, destroyArgs), 0);
    }
    return emit.call(this, event, ...args);
  };
  return session;
}

function wrapFactory<K extends keyof Http2Factories>(
  http2: Http2Factories,
  name: K,
  onCreated: (created: unknown) => void,
): void {
  const original = http2[name];
  if (typeof original !== "function") return;
  http2[name] = function (this: unknown, ...args: unknown[]): unknown {
    const created = original.apply(this, args);
    onCreated(created);
    return created;
  };
}

function isSession(value: unknown): value is GuardableSession {
  const v = value as Partial<GuardableSession> | null;
  return !!v && typeof v.emit === "function" && typeof v.close === "function" &&
    typeof v.destroy === "function";
}

/**
 * Installs the guard on a `node:http2` module object (idempotent): sessions from `connect`,
 * and the sessions of servers from `createServer` / `createSecureServer`, are guarded. Returns
 * false when the module was already patched.
 */
export function installGoawayGuard(http2: Http2Factories): boolean {
  const target = http2 as Http2Factories & { [GUARDED]?: boolean };
  if (target[GUARDED]) return false;
  target[GUARDED] = true;
  wrapFactory(http2, "connect", (session) => {
    if (isSession(session)) guardSession(session);
  });
  const onServer = (server: unknown) => {
    const s = server as { on?: (event: string, fn: (session: unknown) => void) => void };
    s.on?.("session", (session) => {
      if (isSession(session)) guardSession(session);
    });
  };
  wrapFactory(http2, "createServer", onServer);
  wrapFactory(http2, "createSecureServer", onServer);
  return true;
}
