/**
 * The version of `@cpex/core`, read from its deno.json (the one place it is written).
 *
 * @module
 */
import denoJson from "../../deno.json" with { type: "json" };

/**
 * The `@cpex/core` version this CLI belongs to.
 *
 * @example
 * ```ts
 * import { VERSION } from "./version.ts";
 * console.log(VERSION); // e.g. "0.1.0"
 * ```
 */
export const VERSION: string = denoJson.version;
