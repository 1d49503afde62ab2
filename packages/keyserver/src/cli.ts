import type { Command } from '@outpost/command'

export const keyserverCommand: Command = {
  name: 'keyserver',
  summary: 'Run and administer the key server',
  subcommands: [],
}
