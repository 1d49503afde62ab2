import type { Command } from '@outpost/command'

export const edgeCommand: Command = {
  name: 'edge',
  summary: 'Run and administer an edge node',
  subcommands: [],
}
