/**
 * The screening commands as their own process (stdin/stdout, exit code),
 * without loading the whole `outpost` tree: other packages' work in progress
 * must not break these tests. `packages/cli/src/root.ts` registers the same
 * command objects.
 */
import { runCommand } from '@outpost/command'
import { listsCommand, screenCommand } from '@outpost/screening/cli'

process.exitCode = await runCommand(
  { name: 'outpost', summary: 'screening commands', subcommands: [screenCommand, listsCommand] },
  process.argv.slice(2),
)
