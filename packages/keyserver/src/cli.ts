import type { Command } from '@outpost/command'

export const keyserverCommand: Command = {
  name: 'keyserver',
  summary: 'Run and administer the key server',
  subcommands: [],
}
export const auditCommand: Command = {
  name: 'audit',
  summary: 'Work with hash-chained audit logs',
  subcommands: [],
}
