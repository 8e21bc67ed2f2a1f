/**
 * The MCP tool names of the plugin protocol (wire.md §2.3), imported by both the gateway-side
 * client and the server, so a gateway never loads the server SDK for them (issue 10 item 5).
 *
 * @module
 */

/** Tool name of the all-configs query. */
export const GET_PLUGIN_CONFIGS = "get_plugin_configs";
/** Tool name of the one-config query. */
export const GET_PLUGIN_CONFIG = "get_plugin_config";
/** Tool name of the hook call. */
export const INVOKE_HOOK = "invoke_hook";
