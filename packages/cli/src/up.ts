import type { Command } from '@outpost/command'

export const upCommand: Command = {
  name: 'up',
  summary: 'Start a complete local deployment on loopback',
  run: () => 0,
}
