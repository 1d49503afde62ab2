import type { Command } from '@outpost/command'

export const controlCommand: Command = {
  name: 'control',
  summary: 'Run the control plane',
  subcommands: [],
}
export const ctlCommand: Command = {
  name: 'ctl',
  summary: 'Use the control-plane API from the command line',
  subcommands: [],
}
