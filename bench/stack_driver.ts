/**
 * Gateways measured in their own process (parent side): the Python reference's own gateway
 * (`python_gateway.py`, cpex `PluginManager` from `.venv`) for the stack-to-stack rows (its
 * gateway client against its own server), and our gateway in a Deno child
 * (`gateway_child.ts`) for the memory benchmark (`grpc_rss.ts`). Both speak one line protocol:
 * `READY` once initialized; then per stdin line `<in_flight> <ms>` one JSON line with the
 * round's calls, seconds and latencies. Rounds are driven from the parent's `measure()`, so
 * these rows interleave with the in-process ones like any other target.
 *
 * @module
 */
import { BENCH_DIR, type Child, type ChildSet, READY } from "./children.ts";
import { PAYLOAD_TEXT, type RoundResult, type Target } from "./harness.ts";

/** A child speaking the driver protocol, and its next round. */
export class DrivenGateway {
  #seen = 0;
  #waiting: ((line: string) => void)[] = [];
  readonly #lines: string[] = [];
  readonly #encoder = new TextEncoder();

  /** Wraps a started child (after its `READY`). */
  constructor(readonly child: Child) {
    child.onStdout = (stdout) => {
      let end;
      while ((end = stdout.indexOf("\n", this.#seen)) >= 0) {
        const line = stdout.slice(this.#seen, end).trim();
        this.#seen = end + 1;
        if (!line.startsWith("{")) continue; // READY and anything else
        const next = this.#waiting.shift();
        if (next) next(line);
        else this.#lines.push(line);
      }
    };
  }

  /** The child's process id. */
  get pid(): number {
    return this.child.process.pid;
  }

  /** Runs one round of `inFlight` callers for `ms` in the child. */
  async round(inFlight: number, ms: number): Promise<RoundResult> {
    const writer = this.child.process.stdin.getWriter();
    try {
      await writer.write(this.#encoder.encode(`${inFlight} ${ms}\n`));
    } finally {
      writer.releaseLock();
    }
    const status = this.child.process.status.then((s) => {
      throw new Error(`${this.child.name} exited (code ${s.code})\n${this.child.log()}`);
    });
    const line = this.#lines.shift() ??
      await Promise.race([new Promise<string>((r) => this.#waiting.push(r)), status]);
    status.catch(() => {});
    return JSON.parse(line) as RoundResult;
  }
}

/**
 * Starts the reference's gateway with `entries` (`kind: external` plugin entries) in the
 * benchmark's children; null when `.venv` is missing.
 */
export async function pythonGateway(
  children: ChildSet,
  name: string,
  entries: Record<string, unknown>[],
): Promise<DrivenGateway | null> {
  const child = await children.pythonScript(
    name,
    [
      `${BENCH_DIR}python_gateway.py`,
      JSON.stringify(entries),
      PAYLOAD_TEXT,
    ],
    { PLUGINS_LOG_LEVEL: "WARNING" },
    READY,
  );
  return child ? new DrivenGateway(child) : null;
}

/** A row measured by a driven gateway (client CPU = the gateway process's). */
export function drivenTarget(
  label: string,
  gateway: DrivenGateway,
  serverPid: number,
  transport?: string,
): Target {
  return {
    label,
    transport,
    serverPid,
    clientPid: gateway.pid,
    callers: (n) => Promise.resolve(Array.from({ length: n }, () => () => Promise.resolve())),
    round: (inFlight, ms) => gateway.round(inFlight, ms),
    close: () => Promise.resolve(), // the ChildSet stops the process
  };
}
