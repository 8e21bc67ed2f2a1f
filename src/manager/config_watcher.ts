/**
 * Watches one config file for the manager's `watch: true` option (issue 14 item 4) and calls
 * back, debounced, when it may have changed.
 *
 * The file's directory is watched, not the file: editors save by writing a temporary file and
 * renaming it over the old one, and Kubernetes updates a mounted ConfigMap by swapping a
 * symlink, and in both cases a watch on the file itself would see the old inode vanish and then
 * nothing more. Any event naming the file (or, for ConfigMaps, the `..data` link) triggers.
 *
 * @module
 */
import { basename, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** How long the directory must be quiet before the callback runs (a save is several events). */
const DEBOUNCE_MS = 100;

/** A running watch of one file; `close()` stops it. Internal: the manager owns it. */
export class ConfigWatcher {
  readonly #watcher: Deno.FsWatcher;
  readonly #name: string;
  readonly #onChange: () => Promise<void>;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<void> | null = null;
  #again = false;
  #closed = false;

  /** Starts watching `path`; `onChange` runs after changes, never twice at once. */
  constructor(path: string | URL, onChange: () => Promise<void>) {
    const file = resolve(
      path instanceof URL || path.startsWith("file:") ? fileURLToPath(path) : path,
    );
    this.#name = basename(file);
    this.#onChange = onChange;
    try {
      this.#watcher = Deno.watchFs(dirname(file), { recursive: false });
    } catch (error) {
      if (!(error instanceof Deno.errors.NotCapable)) throw error;
      throw new Error(
        `watch: true needs --allow-read=${dirname(file)} (the config's directory) to watch ${file}`,
        { cause: error },
      );
    }
    this.#pump();
  }

  async #pump(): Promise<void> {
    try {
      for await (const event of this.#watcher) {
        if (event.kind === "access") continue;
        if (event.paths.some((p) => this.#matches(p))) this.#schedule();
      }
    } catch {
      // Closed, or the directory vanished: nothing more to watch.
    }
  }

  #matches(path: string): boolean {
    const name = basename(path);
    return name === this.#name || name === "..data";
  }

  #schedule(): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#fire(), DEBOUNCE_MS);
  }

  #fire(): void {
    this.#timer = undefined;
    if (this.#closed) return;
    // A change during a reload reloads once more afterwards, so the last write always wins.
    if (this.#running !== null) {
      this.#again = true;
      return;
    }
    this.#running = this.#onChange().finally(() => {
      this.#running = null;
      if (this.#again && !this.#closed) {
        this.#again = false;
        this.#fire();
      }
    });
  }

  /**
   * Stops watching. A reload already started is not awaited: it is queued behind (or ahead of)
   * the manager's shutdown, which orders them.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    try {
      this.#watcher.close();
    } catch { /* already closed */ }
  }
}
