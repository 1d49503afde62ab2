/**
 * @module
 * Command trees for the `outpost` CLI.
 *
 * @example
 * ```ts
 * const root: Command = { name: 'outpost', summary: '...', subcommands: [keyserverCommand] }
 * process.exitCode = await runCommand(root, process.argv.slice(2))
 * ```
 */
export { runCommand, helpText, UsageError, str, flag, list } from './command.ts'
export type { Command, OptionSpec, RunArgs } from './command.ts'
export { untilSignal } from './signals.ts'
