/**
 * Node/V8 flags per service. A long-running service may need V8 settings that only exist
 * at process start (the young generation's size, for one); the launcher restarts itself
 * in place with them (`process.execve`: same PID, same stdio, so systemd and shells see
 * one process) before it loads anything else.
 *
 * Operators keep the last word: a flag they already gave node (on its command line or in
 * NODE_OPTIONS) is left alone, and OUTPOST_NODE_FLAGS=none turns the whole thing off.
 */
import { KEY_SERVER_NODE_FLAGS, nodeFlagName } from '@outpost/keyserver/node-flags'

/** The flags a command wants, by its leading words (`keyserver run`). */
export function serviceNodeFlags(args: readonly string[]): readonly string[] {
  if (args[0] === 'keyserver' && args[1] === 'run') return KEY_SERVER_NODE_FLAGS
  return []
}

/** The flags still missing from this process: those whose name it was not started with. */
export function missingNodeFlags(
  wanted: readonly string[],
  execArgv: readonly string[],
  nodeOptions: string | undefined,
): string[] {
  const given = new Set(
    [...execArgv, ...(nodeOptions ?? '').split(/\s+/)]
      .filter((a) => a.startsWith('--'))
      .map(nodeFlagName),
  )
  return wanted.filter((f) => !given.has(nodeFlagName(f)))
}

/**
 * Restarts this process with the command's flags when it was started without them; returns
 * when there is nothing to add (or the runtime cannot exec).
 */
export function execWithServiceNodeFlags(args: readonly string[]): void {
  if (process.env['OUTPOST_NODE_FLAGS'] === 'none') return
  const missing = missingNodeFlags(
    serviceNodeFlags(args),
    process.execArgv,
    process.env['NODE_OPTIONS'],
  )
  const script = process.argv[1]
  if (missing.length === 0 || script === undefined || typeof process.execve !== 'function') return
  process.execve(
    process.execPath,
    [process.execPath, ...missing, ...process.execArgv, script, ...args],
    process.env,
  )
}
