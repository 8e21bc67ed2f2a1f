/**
 * Raw MCP clients of the wire-level conformance tests: they send JSON-RPC text exactly as
 * written (numbers like `2.0` or `1E3` included) to a plugin server over Streamable HTTP or
 * over a child's STDIO pipes, and return the raw text of the answers, so a test can compare
 * our server's bytes with the reference's. Also starts the reference's MCP runtime over STDIO
 * and our STDIO child with the wire plugin sets.
 *
 * @module
 */
import { PYTHON, requireVenv, ROOT } from "../interop/unix_helpers.ts";

/** This directory, as a path. */
export const CONFORMANCE_DIR: string = new URL("tests/conformance/", ROOT).pathname;
/** The reference servers' config (the Python twins of `wire_plugins.ts`). */
export const WIRE_PY_CONFIG = `${CONFORMANCE_DIR}wire_plugins.yaml`;
/** The environment the reference servers need to import `wire_plugins.<Class>`. */
export const WIRE_PY_ENV: Record<string, string> = { PYTHONPATH: CONFORMANCE_DIR };
/** Our STDIO server hosting `wire_plugins.ts`. */
export const WIRE_STDIO_CHILD = `${CONFORMANCE_DIR}wire_stdio_child.ts`;

const decoder = new TextDecoder();
const encoder = new TextEncoder();
const WAIT_MS = 20_000;

/** The `initialize` request every raw session starts with. */
function initialize(id: number): string {
  return JSON.stringify({
    jsonrpc: "2.0",
    id,
    method: "initialize",
    params: {
      protocolVersion: "2025-03-26",
      capabilities: {},
      clientInfo: { name: "wire-raw", version: "0" },
    },
  });
}
const INITIALIZED = '{"jsonrpc":"2.0","method":"notifications/initialized"}';

/**
 * The raw text of an `invoke_hook` call whose `arguments` JSON is given as text.
 *
 * @example
 * ```ts
 * import { invokeHookText } from "./wire_raw_mcp.ts";
 * console.log(invokeHookText(3, '{"a":2.0}').includes('"a":2.0')); // true
 * ```
 */
export function invokeHookText(id: number, argumentsText: string): string {
  return `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":` +
    `{"name":"invoke_hook","arguments":${argumentsText}}}`;
}

/**
 * A raw MCP session: `request` sends one request text and returns the raw text of the
 * JSON-RPC message answering it.
 *
 * @example
 * ```ts
 * import type { RawMcpSession } from "./wire_raw_mcp.ts";
 * const ask = (s: RawMcpSession) => s.request(1, '{"jsonrpc":"2.0","id":1,"method":"ping"}');
 * ```
 */
export interface RawMcpSession {
  /** Sends `text` (a request with id `id`) and returns the answer's raw text. */
  request(id: number, text: string): Promise<string>;
  /** Ends the session (HTTP DELETE, or closes the child's stdin and waits for it). */
  close(): Promise<void>;
}

/** The JSON-RPC messages of an SSE body (`data:` lines), or the body itself when JSON. */
function messagesOf(contentType: string, body: string): string[] {
  if (!contentType.includes("text/event-stream")) return [body];
  return body.split(/\r?\n/).filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim())
    .filter((l) => l.length > 0);
}

function answerWithId(messages: string[], id: number, what: string): string {
  const found = messages.find((m) => (JSON.parse(m) as { id?: unknown }).id === id);
  if (found === undefined) throw new Error(`no answer with id ${id} to ${what}: ${messages}`);
  return found;
}

/**
 * Opens a raw Streamable HTTP session at `url` (`http://127.0.0.1:PORT/mcp`).
 *
 * @example
 * ```ts ignore
 * const session = await openRawHttp("http://127.0.0.1:8000/mcp");
 * await session.close();
 * ```
 */
export async function openRawHttp(url: string): Promise<RawMcpSession> {
  const client = Deno.createHttpClient({});
  let sessionId: string | null = null;
  const post = async (text: string): Promise<Response> => {
    const headers: Record<string, string> = {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
    };
    if (sessionId) {
      headers["mcp-session-id"] = sessionId;
      headers["mcp-protocol-version"] = "2025-03-26";
    }
    return await fetch(url, {
      method: "POST",
      headers,
      body: text,
      client,
      signal: AbortSignal.timeout(WAIT_MS),
    });
  };
  const request = async (id: number, text: string): Promise<string> => {
    const res = await post(text);
    const body = await res.text();
    if (!res.ok) throw new Error(`POST ${url} answered ${res.status}: ${body}`);
    return answerWithId(messagesOf(res.headers.get("content-type") ?? "", body), id, text);
  };
  try {
    const res = await post(initialize(0));
    const body = await res.text();
    if (!res.ok) throw new Error(`initialize answered ${res.status}: ${body}`);
    sessionId = res.headers.get("mcp-session-id");
    await (await post(INITIALIZED)).body?.cancel();
  } catch (error) {
    client.close();
    throw error;
  }
  return {
    request,
    async close() {
      try {
        const res = await fetch(url, {
          method: "DELETE",
          headers: { "mcp-session-id": sessionId ?? "" },
          client,
          signal: AbortSignal.timeout(WAIT_MS),
        });
        await res.body?.cancel();
      } finally {
        client.close();
      }
    },
  };
}

/**
 * Starts `command` (a STDIO MCP server) and opens a raw session on its pipes. `close()` ends
 * its stdin and waits (bounded) for it to exit.
 *
 * @example
 * ```ts ignore
 * const session = await openRawStdio(Deno.execPath(), ["run", WIRE_STDIO_CHILD]);
 * await session.close();
 * ```
 */
export async function openRawStdio(
  command: string,
  args: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<RawMcpSession & { stderr(): string }> {
  const child = new Deno.Command(command, {
    args,
    cwd: options.cwd ?? ROOT.pathname,
    env: { PYTHONDONTWRITEBYTECODE: "1", NO_COLOR: "1", ...options.env },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  let log = "";
  const stderrDone = (async () => {
    for await (const chunk of child.stderr) log += decoder.decode(chunk, { stream: true });
  })();
  const lines: string[] = [];
  let wake = null as (() => void) | null;
  let ended = false;
  const stdoutDone = (async () => {
    let buffer = "";
    for await (const chunk of child.stdout) {
      buffer += decoder.decode(chunk, { stream: true });
      let newline;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        lines.push(buffer.slice(0, newline));
        buffer = buffer.slice(newline + 1);
      }
      wake?.();
    }
    ended = true;
    wake?.();
  })();
  const request = async (id: number, text: string): Promise<string> => {
    await writer.write(encoder.encode(text + "\n"));
    const deadline = Date.now() + WAIT_MS;
    while (true) {
      const index = lines.findIndex((l) => {
        try {
          return (JSON.parse(l) as { id?: unknown }).id === id;
        } catch {
          return false;
        }
      });
      if (index >= 0) return lines.splice(index, 1)[0];
      if (ended) throw new Error(`${command} ended before answering ${id}; stderr: ${log}`);
      if (Date.now() > deadline) throw new Error(`no answer to ${id} in ${WAIT_MS} ms: ${log}`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, 200);
      });
      clearTimeout(timer);
      wake = null;
    }
  };
  const close = async (): Promise<void> => {
    await writer.close().catch(() => {});
    const killer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already exited.
      }
    }, 10_000);
    try {
      await child.status;
    } finally {
      clearTimeout(killer);
    }
    await Promise.all([stdoutDone, stderrDone]);
  };
  try {
    await request(0, initialize(0));
    await writer.write(encoder.encode(INITIALIZED + "\n"));
  } catch (error) {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await close();
    throw error;
  }
  return { request, close, stderr: () => log };
}

/**
 * Our STDIO child (`wire_stdio_child.ts`) as a raw session.
 *
 * @example
 * ```ts ignore
 * const session = await openOurStdio();
 * await session.close();
 * ```
 */
export function openOurStdio(): Promise<RawMcpSession & { stderr(): string }> {
  return openRawStdio(Deno.execPath(), ["run", "--no-prompt", WIRE_STDIO_CHILD]);
}

/**
 * The reference's MCP runtime over STDIO serving `wire_plugins.yaml`, as a raw session.
 *
 * @example
 * ```ts ignore
 * const session = await openReferenceStdio();
 * await session.close();
 * ```
 */
export async function openReferenceStdio(): Promise<RawMcpSession & { stderr(): string }> {
  await requireVenv();
  return await openRawStdio(PYTHON, ["-m", "cpex.framework.external.mcp.server.runtime"], {
    cwd: CONFORMANCE_DIR,
    env: {
      ...WIRE_PY_ENV,
      PLUGINS_TRANSPORT: "stdio",
      PLUGINS_CONFIG_PATH: WIRE_PY_CONFIG,
      PLUGINS_LOG_LEVEL: "WARNING",
    },
  });
}

/**
 * `text` (JSON) without the whitespace between tokens: the reference indents its tool answers,
 * we do not; the tokens themselves (number texts included) are compared as they are.
 *
 * @example
 * ```ts
 * import { minifyJson } from "./wire_raw_mcp.ts";
 * console.log(minifyJson('{ "a" : [ 2.0 , "x y" ] }')); // {"a":[2.0,"x y"]}
 * ```
 */
export function minifyJson(text: string): string {
  let out = "";
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      out += c;
      if (c === "\\") out += text[++i];
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (c !== " " && c !== "\n" && c !== "\r" && c !== "\t") out += c;
  }
  return out;
}
