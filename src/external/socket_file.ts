/**
 * Socket-file chores shared by every server that can bind a Unix socket, and the `READY` line
 * a parent process waits for.
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

/**
 * Writes the `READY` line on stdout (the reference's runtimes print it for a parent process).
 */
export async function announceReady(): Promise<void> {
  const line = new TextEncoder().encode("READY\n");
  let written = 0;
  while (written < line.length) written += await Deno.stdout.write(line.subarray(written));
}
