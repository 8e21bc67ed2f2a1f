/**
 * The version of `@cpex/core`, read from its deno.json (the one place it is written).
 *
 * @module
 */
import denoJson from "../../deno.json" with { type: "json" };

/**
 * The `@cpex/core` version this CLI belongs to.
 */
export const VERSION: string = denoJson.version;
