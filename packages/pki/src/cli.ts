import type { Command } from '@outpost/command'

export const pkiCommand: Command = {
  name: 'pki',
  summary: 'Create a development PKI',
  subcommands: [],
}
