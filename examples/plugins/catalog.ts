/**
 * The example plugins with the configs the example servers host them with, by plugin name.
 * The example servers (`examples/unix_server.ts`, `grpc_server.ts`, `mcp_server.ts`) host
 * `ArgumentValidator` by default; `--plugins=DenyList,SearchReplace` picks others. Everything
 * is imported statically, so a server needs no read permission for the source tree.
 *
 * A gateway that loads one of these as `kind: external` gets the config below from the server
 * (wire.md §1.5: `config` always comes from the server; hooks, mode and priority unless the
 * gateway's entry sets them).
 *
 * @module
 */
import type { Plugin } from "../../mod.ts";
import { ArgumentValidator } from "./argument_validator.ts";
import { DenyList } from "./deny_list.ts";
import { PiiMasker } from "./pii_masker.ts";
import { RegexFilter } from "./regex_filter.ts";
import { ResourceFilter } from "./resource_filter.ts";

/**
 * Factories of the hostable example plugins, keyed by plugin name.
 *
 * @example
 * ```ts
 * import { EXAMPLE_PLUGINS } from "./catalog.ts";
 * console.log(Object.keys(EXAMPLE_PLUGINS)); // ["ArgumentValidator", "DenyList", ...]
 * const validator = EXAMPLE_PLUGINS.ArgumentValidator();
 * console.log(validator.config.config); // { max_length: 100 }
 * ```
 */
export const EXAMPLE_PLUGINS: Readonly<Record<string, () => Plugin>> = {
  ArgumentValidator: () =>
    new ArgumentValidator({
      name: "ArgumentValidator",
      kind: "examples/plugins/argument_validator.ts#ArgumentValidator",
      description: "Blocks tool and prompt arguments longer than max_length characters",
      hooks: ["tool_pre_invoke", "prompt_pre_fetch"],
      mode: "sequential",
      config: { max_length: 100 },
    }),
  DenyList: () =>
    new DenyList({
      name: "DenyList",
      kind: "examples/plugins/deny_list.ts#DenyList",
      description: "Blocks requests containing denied words",
      hooks: ["tool_pre_invoke", "prompt_pre_fetch"],
      mode: "sequential",
      config: { words: ["jailbreak", "ignore previous instructions", "rm -rf"] },
    }),
  SearchReplace: () =>
    new RegexFilter({
      name: "SearchReplace",
      kind: "examples/plugins/regex_filter.ts#RegexFilter",
      description: "Rewrites text with ordered regex replacements",
      hooks: ["tool_pre_invoke", "tool_post_invoke", "prompt_pre_fetch", "prompt_post_fetch"],
      mode: "transform",
      config: {
        words: [{ search: "crap", replace: "crud" }, { search: "crud", replace: "yikes" }],
      },
    }),
  PiiMasker: () =>
    new PiiMasker({
      name: "PiiMasker",
      kind: "examples/plugins/pii_masker.ts#PiiMasker",
      description: "Masks e-mails, phone numbers, card numbers and SSNs",
      hooks: ["tool_pre_invoke", "tool_post_invoke", "prompt_pre_fetch", "prompt_post_fetch"],
      mode: "transform",
      config: { mask: "[{kind}]" },
    }),
  ResourceFilter: () =>
    new ResourceFilter({
      name: "ResourceFilter",
      kind: "examples/plugins/resource_filter.ts#ResourceFilter",
      description: "Checks resource protocols and domains, limits and redacts content",
      hooks: ["resource_pre_fetch", "resource_post_fetch"],
      mode: "sequential",
      config: {
        allowed_protocols: ["https", "http"],
        blocked_domains: ["tracker.example", "malicious.example.com"],
        max_content_size: 65_536,
        content_filters: [
          {
            pattern: String.raw`(api[_-]?key|password|secret)(\s*[:=]\s*)\S+`,
            replacement: "$1$2[REDACTED]",
            flags: "i",
          },
        ],
      },
    }),
};

/**
 * Splits `--plugins=A,B` off a server's arguments and builds those plugins (default
 * `ArgumentValidator`); the other arguments are returned in order.
 *
 * @throws {Error} for a name that is not in {@linkcode EXAMPLE_PLUGINS}.
 *
 * @example
 * ```ts
 * import { hostedPlugins } from "./catalog.ts";
 * const { plugins, args } = hostedPlugins(["/tmp/p.sock", "--plugins=DenyList"]);
 * console.log(plugins.map((p) => p.name), args); // ["DenyList"] ["/tmp/p.sock"]
 * ```
 */
export function hostedPlugins(argv: readonly string[]): { plugins: Plugin[]; args: string[] } {
  let names = ["ArgumentValidator"];
  const args: string[] = [];
  for (const arg of argv) {
    if (arg.startsWith("--plugins=")) {
      names = arg.slice("--plugins=".length).split(",").map((n) => n.trim()).filter(Boolean);
    } else {
      args.push(arg);
    }
  }
  const unknown = names.filter((n) => !Object.hasOwn(EXAMPLE_PLUGINS, n));
  if (unknown.length || names.length === 0) {
    throw new Error(
      `--plugins: unknown plugin ${unknown.join(", ") || "(none given)"}; ` +
        `choose from ${Object.keys(EXAMPLE_PLUGINS).join(", ")}`,
    );
  }
  return { plugins: names.map((n) => EXAMPLE_PLUGINS[n]()), args };
}
