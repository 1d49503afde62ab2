/**
 * V8 settings for a process whose main job is the key server (`outpost keyserver run`),
 * applied by the `outpost` launcher (packages/cli/src/node-flags.ts) and by the benchmark's
 * server process, so that what is measured is what runs.
 *
 * They keep V8 out of "GC storms": back-to-back mark-compacts, every 40-500 ms for as long
 * as the load lasts, each with 30-70 ms of marking, 3-10 µs per signature in all
 * (docs/keyserver.md, "GC storms"). The key server keeps ~20 MB live and promotes little,
 * so V8 sizes the old generation's limit at live + its 8 MB minimum step + the young
 * generation, and then starts incremental marking after every scavenge because that slack
 * is below the young-generation size it wants free (`Heap::IncrementalMarkingLimitReached`):
 *
 * - `--incremental-marking-soft-trigger=80` / `--incremental-marking-hard-trigger=90`: start
 *   marking when the old generation reaches 80 % (as a task) / 90 % (at once) of its limit,
 *   instead of that slack rule. In full benchmark runs: 0 storms (3 marking starts in the
 *   run) against ~270 marking starts and 45-115 mark-compacts per ping cell without them.
 * - `--max-semi-space-size=4`: a 4 MiB-per-semispace young generation instead of 16 MiB;
 *   made storms rarer before the triggers (short scavenges, no measured cost).
 *
 * None of these can be set for a running heap in a way that applies to all of it, so they
 * are start-up flags. This module is imported before anything else is loaded: keep it free
 * of imports.
 */
export const KEY_SERVER_NODE_FLAGS: readonly string[] = [
  '--max-semi-space-size=4',
  '--incremental-marking-soft-trigger=80',
  '--incremental-marking-hard-trigger=90',
]

/** The flag's name (`--max-semi-space-size`) from `--name=value` or `--name value`. */
export function nodeFlagName(flag: string): string {
  const eq = flag.indexOf('=')
  return (eq < 0 ? flag : flag.slice(0, eq)).replaceAll('_', '-')
}
