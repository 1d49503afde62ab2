/**
 * `outpost tls-demo` without the rest of the CLI: the same command object and argument
 * parsing as `node packages/cli/src/main.ts tls-demo ...`, but importing only @outpost/tls,
 * so a half-edited unrelated package in the shared working tree cannot stop a long
 * benchmark or conformance run from starting its server.
 *
 *   node packages/tls/test/interop/tls-demo-main.ts tls-demo --listen 127.0.0.1:0 ...
 */
import { runCommand } from '@outpost/command'
import { tlsDemoCommand } from '@outpost/cli/tls-demo'

process.exitCode = await runCommand(
  { name: 'outpost', summary: 'tls-demo only', subcommands: [tlsDemoCommand] },
  process.argv.slice(2),
)
