/**
 * V8 settings for a process whose main job is the key server (`outpost keyserver run`),
 * applied by the `outpost` launcher (packages/cli/src/node-flags.ts) and by the benchmark's
 * server process, so that what is measured is what runs.
 *
 * `--max-semi-space-size=4`: a 4 MiB-per-semispace young generation instead of V8's default
 * 16 MiB. With the default, V8 goes into GC storms after an idle phase (a few mark-compacts
 * per second for as long as the load lasts, 3-10 µs per signature): the memory reducer's
 * mark-compact leaves less old-generation slack than the young generation V8 wants free, so
 * every scavenge restarts incremental marking (docs/keyserver.md, "GC storms"). The key server
 * keeps little live data, and its scavenges stay short at this size. It cannot be set from
 * inside a running process (`v8.setFlagsFromString` does not resize an existing heap).
 *
 * This module is imported before anything else is loaded: keep it free of imports.
 */
export const KEY_SERVER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4']

/** The flag's name (`--max-semi-space-size`) from `--name=value` or `--name value`. */
export function nodeFlagName(flag: string): string {
  const eq = flag.indexOf('=')
  return (eq < 0 ? flag : flag.slice(0, eq)).replaceAll('_', '-')
}
