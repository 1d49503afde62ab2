/** The `outpost` command tree: each package contributes its subtree. */
import type { Command } from '@outpost/command'
import { keyserverCommand, auditCommand } from '@outpost/keyserver/cli'
import { pkiCommand } from '@outpost/pki/cli'
import { tlsDemoCommand } from './tls-demo.ts'
import { screenCommand, listsCommand } from '@outpost/screening/cli'
import { edgeCommand } from '@outpost/edge/cli'
import { keylessCommand } from '@outpost/keyless/cli'
import { custodyCommand } from '@outpost/custody/cli'
import { controlCommand, ctlCommand } from '@outpost/control/cli'
import { upCommand } from './up.ts'

export const root: Command = {
  name: 'outpost',
  summary: 'Outpost: edge servers that hold nothing worth taking.',
  description: `
Services run in the safe region (keyserver, control) or at the edge (edge).
'outpost up' starts a complete local deployment on loopback (what 'npm start' runs).`,
  subcommands: [
    upCommand,
    keyserverCommand,
    edgeCommand,
    controlCommand,
    ctlCommand,
    pkiCommand,
    tlsDemoCommand,
    screenCommand,
    listsCommand,
    auditCommand,
    keylessCommand,
    custodyCommand,
  ],
}
