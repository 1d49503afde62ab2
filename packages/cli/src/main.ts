/** `outpost` entry point. */
import { runCommand } from '@outpost/command'
import { root } from './root.ts'

process.exitCode = await runCommand(root, process.argv.slice(2))
