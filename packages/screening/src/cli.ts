import type { Command } from '@outpost/command'

export const screenCommand: Command = {
  name: 'screen',
  summary: 'Screen names against sanctions lists',
}
export const listsCommand: Command = {
  name: 'lists',
  summary: 'Fetch and inspect sanctions lists',
  subcommands: [],
}
