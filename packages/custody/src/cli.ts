import type { Command } from '@outpost/command'

export const custodyCommand: Command = {
  name: 'custody',
  summary: 'Edge custody: Tang unlock, lease, brick',
  subcommands: [],
}
