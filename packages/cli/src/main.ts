/** `outpost` entry point. */
import { execWithServiceNodeFlags } from './node-flags.ts'

const args = process.argv.slice(2)
// Before the command tree (and every service package) is loaded: a service that needs
// start-up V8 flags restarts the process with them here (node-flags.ts).
execWithServiceNodeFlags(args)
const { runCommand } = await import('@outpost/command')
const { root } = await import('./root.ts')
process.exitCode = await runCommand(root, args)
