/**
 * Socket-file chores shared by every server that can bind a Unix socket (the raw Unix server,
 * gRPC over `unix://` and MCP over `uds`): clear a stale socket, create the socket so that it is
 * never connectable by another user, and remove it only while it is still ours.
 *
 * Why a umask and not a private directory (issue 9 item 8, measured on Deno 2.9.6): `bind(2)`
 * creates the socket file with the process umask applied, and a `chmod` afterwards leaves a
 * window in which a permissive umask (002, 000) lets others connect. A private 0700 directory
 * plus a rename needs write access to a second path and `--allow-net=unix:` for it (Deno's unix
 * net permission matches one exact path), so it cannot work under the three per-path flags the
 * servers document. `Deno.umask` works but needs bare `--allow-sys` (`--allow-sys=umask` is
 * refused as an unknown descriptor). So: with `sys` granted, the umask is held at 0177 around the
 * synchronous bind (the socket is born 0600); without it, the socket is checked right after the
 * bind, before anything is accepted, and a socket that was born group- or world-writable
 * (connectable by others) is closed again and start-up fails, naming both fixes.
 *
 * @module
 */

/**
 * Removes a socket file that nobody answers on (a killed server left it behind). Refuses, with
 * `Deno.errors.AddrInUse`, a socket another server is listening on, and refuses any file that
 * is not a socket.
 */
export async function clearStaleSocket(path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  if (!info.isSocket) {
    throw new Error(`Refusing to replace ${path}: it exists and is not a socket`);
  }
  let live = false;
  try {
    (await Deno.connect({ transport: "unix", path })).close();
    live = true;
  } catch {
    await Deno.remove(path).catch(() => {});
  }
  if (live) throw new Deno.errors.AddrInUse(`Another server is listening on ${path}`);
}

/** The mode every server socket ends up with. */
export const SOCKET_MODE = 0o600;
/** The umask held around the bind when `--allow-sys` allows it: the socket is born 0600. */
const BIND_UMASK = 0o177;
/** Group or world write: who holds it may connect to a Unix socket. */
const CONNECTABLE_BY_OTHERS = 0o022;

/**
 * A socket file this process created: removed on close only while the path still names the
 * same file (device and inode recorded at bind; issue 9 item 9).
 */
export class OwnedSocket {
  /** The socket path. */
  readonly path: string;
  readonly #dev: number | null;
  readonly #ino: number | null;

  /** Records `path` as created by this process, with its file identity. */
  constructor(path: string, info: Deno.FileInfo) {
    this.path = path;
    this.#dev = info.dev;
    this.#ino = info.ino;
  }

  /** Whether `info` describes the file this process created. */
  isSame(info: Deno.FileInfo): boolean {
    return info.isSocket === true && this.#dev !== null && this.#ino !== null &&
      info.dev === this.#dev && info.ino === this.#ino;
  }

  /** Whether the path still names the socket this process created. */
  stillOurs(): boolean {
    try {
      return this.isSame(Deno.lstatSync(this.path));
    } catch {
      return false;
    }
  }

  /**
   * Removes the socket file if the path still names it; a file put there by someone else (or
   * nothing at all) is left alone. Never throws.
   */
  async remove(): Promise<void> {
    try {
      if (this.isSame(await Deno.lstat(this.path))) await Deno.remove(this.path);
    } catch {
      // Gone already, or not ours to remove.
    }
  }

  /**
   * Stops listening without deleting a file that is not ours. Deno's Unix listener (also the one
   * inside `Deno.serve`) unlinks its path whenever it is dropped, whatever the path names by
   * then (ext/net `UnixListenerWithPath`, Deno 2.9): closed, or torn down with the runtime at a
   * natural exit. So when the path still names our socket, `close` runs (and the socket goes
   * with it); when it names someone else's file, the listener is only unreferenced (`unref`;
   * nobody can reach it, its name is gone) and kept open, and the process ends with
   * `Deno.exit` from its `unload` event so the runtime's teardown never drops it. Returns
   * whether `close` ran.
   */
  async release(
    close: () => void | Promise<void>,
    unref: () => void,
  ): Promise<boolean> {
    if (this.stillOurs()) {
      await close();
      await this.remove();
      return true;
    }
    unref();
    keepUntilExit();
    return false;
  }
}

let exitHookInstalled = false;

/** Ends the process at its natural end with `Deno.exit`, skipping the runtime's teardown. */
function keepUntilExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  globalThis.addEventListener("unload", () => Deno.exit(), { once: true });
}

function sysGranted(): boolean {
  return Deno.permissions.querySync({ name: "sys", kind: "umask" }).state === "granted";
}

/**
 * Binds a Unix socket at `path` (absolute) so that no other user can ever connect to it, and
 * leaves it mode 0600. `listen` must bind synchronously (`Deno.listen`, `Deno.serve`); it runs
 * after a stale socket is cleared (see {@linkcode clearStaleSocket}). With `--allow-sys` the
 * umask is 0177 during `listen`; without it a socket born connectable by others (umask 002 or
 * 000) is given to `abandon` before anything could be accepted, removed, and start-up fails.
 * Needs read and write on `path` (plus what `listen` needs).
 */
export async function bindPrivateSocket<T>(
  path: string,
  listen: () => T,
  abandon: (listener: T) => void | Promise<void>,
): Promise<{ listener: T; socket: OwnedSocket }> {
  await clearStaleSocket(path);
  let listener: T;
  let born: Deno.FileInfo;
  if (sysGranted()) {
    const previous = Deno.umask(BIND_UMASK);
    try {
      listener = listen();
    } finally {
      Deno.umask(previous);
    }
    born = Deno.lstatSync(path);
  } else {
    listener = listen();
    // Synchronously after the bind: nothing can have been accepted or served yet.
    born = Deno.lstatSync(path);
  }
  const owned = new OwnedSocket(path, born);
  try {
    if (((born.mode ?? 0) & CONNECTABLE_BY_OTHERS) !== 0) {
      throw new Error(
        `Refusing to serve on ${path}: the process umask let the socket be created mode ` +
          `0${((born.mode ?? 0) & 0o777).toString(8)}, connectable by other users until it is ` +
          "made 0600. Run with --allow-sys (the socket is then created 0600 under a held umask) " +
          "or under a umask that removes group and world write (e.g. umask 077)",
      );
    }
    await Deno.chmod(path, SOCKET_MODE);
  } catch (error) {
    await abandon(listener);
    await owned.remove();
    throw error;
  }
  return { listener, socket: owned };
}
