/**
 * The private Unix socket a sandbox child is reached over when the gateway may use one: a
 * socket in a fresh 0700 directory under `/tmp`, accepted once and removed at once (so the
 * child's permission for its path grants nothing afterwards). About twice as fast per call
 * as the child's stdin/stdout, whose streams cost more per frame than a socket's reads.
 *
 * @module
 */
import type { SandboxPermissions } from "../types.ts";

/** A listening private socket. */
export interface PrivateSocket {
  /** The socket's path. */
  readonly path: string;
  /** Resolves to the one connection (null if `close()` came first). */
  accept(): Promise<Deno.UnixConn | null>;
  /** Stops listening and removes the socket and its directory. */
  close(): void;
}

/**
 * Opens a private socket in a fresh directory under `parent`, or returns null when the
 * gateway lacks read, write or `unix:` net permission for it (the caller then uses the
 * child's stdin/stdout). Never prompts.
 */
export function openPrivateSocket(parent = "/tmp"): PrivateSocket | null {
  const dir = `${parent}/cpex-sandbox-${crypto.randomUUID()}`;
  const path = `${dir}/s`;
  const granted = (d: Deno.PermissionDescriptor) =>
    Deno.permissions.querySync(d).state === "granted";
  if (
    !granted({ name: "write", path: dir }) || !granted({ name: "read", path: dir }) ||
    !granted({ name: "net", host: `unix:${path}` })
  ) return null;
  let listener: Deno.UnixListener;
  try {
    Deno.mkdirSync(dir, { mode: 0o700 });
    listener = Deno.listen({ transport: "unix", path });
  } catch {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch {
      // Never created.
    }
    return null;
  }
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    try {
      listener.close();
    } catch {
      // Closed by accept.
    }
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch {
      // Already removed.
    }
  };
  return {
    path,
    accept: async () => {
      try {
        return await listener.accept();
      } catch {
        return null;
      } finally {
        close();
      }
    },
    close,
  };
}

/** `permissions` plus what the child needs to connect to `path`. */
export function withSocketPermissions(p: SandboxPermissions, path: string): SandboxPermissions {
  const add = (value: boolean | string[] | undefined, item: string): boolean | string[] =>
    value === true ? true : [...(Array.isArray(value) ? value : []), item];
  return {
    ...p,
    read: add(p.read, path),
    write: add(p.write, path),
    net: add(p.net, `unix:${path}`),
  };
}
