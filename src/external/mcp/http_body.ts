/**
 * Request bodies of the MCP HTTP server, read under a size limit before anything is buffered
 * (issue 9 item 2).
 *
 * @module
 */

/** Bodies up to this size are read in one call (cheaper than a reader for small calls). */
const SMALL_BODY = 64 * 1024;

/** The Content-Length of `req`, or null without one. */
export function declaredLength(req: Request): number | null {
  const value = req.headers.get("content-length");
  return value === null ? null : Number(value);
}

/**
 * Reads at most `limit` bytes of the body; null when it is larger. With a Content-Length the
 * body lands in one buffer of that size (one copy, item 2).
 */
export async function readBody(req: Request, limit: number): Promise<Uint8Array | null> {
  const declared = declaredLength(req);
  if (declared !== null && !(declared <= limit)) {
    await req.body?.cancel().catch(() => {});
    return null;
  }
  if (!req.body) return new Uint8Array(0);
  if (declared !== null && declared <= SMALL_BODY) return new Uint8Array(await req.arrayBuffer());
  const reader = req.body.getReader();
  const exact = declared !== null ? new Uint8Array(declared) : null;
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      if (size + value.length > (exact ? exact.length : limit)) {
        await reader.cancel().catch(() => {});
        return null;
      }
      if (exact) exact.set(value, size);
      else chunks.push(value);
      size += value.length;
    }
  } finally {
    reader.releaseLock();
  }
  if (exact) return size === exact.length ? exact : exact.subarray(0, size);
  const out = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}
