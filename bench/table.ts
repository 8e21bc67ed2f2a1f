/**
 * Table output shared by the benchmarks: aligned text for a terminal, or Markdown for the README
 * (`--markdown`).
 *
 * @module
 */

/** True when the script was started with `--markdown`. */
export const MARKDOWN: boolean = Deno.args.includes("--markdown");

/** `Deno.args` without the flags this module reads. */
export const ARGS: string[] = Deno.args.filter((a) => a !== "--markdown");

/**
 * The lines of a table: aligned columns (first left, the others right, a rule under the header),
 * or a Markdown table followed by a blank line when `markdown` is set.
 *
 * ```ts ignore
 * import { formatTable } from "./table.ts";
 * for (const line of formatTable(["a", "b"], [["x", "1"]])) console.log(line);
 * ```
 */
export function formatTable(header: string[], rows: string[][], markdown = MARKDOWN): string[] {
  if (markdown) {
    const line = (cells: string[]): string => `| ${cells.join(" | ")} |`;
    // The blank line ends the table: Markdown would take the next text line as one more row.
    return [
      line(header),
      line(header.map((_, i) => i === 0 ? "---" : "---:")),
      ...rows.map(line),
      "",
    ];
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const format = (cells: string[]): string =>
    cells.map((cell, i) => i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])).join("  ");
  return [format(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(format)];
}

/** The median of `values`. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** `(met)` or `(NOT met)`. */
export function met(ok: boolean): string {
  return ok ? "met" : "NOT met";
}
