import type { Command } from '@outpost/command'

export const tlsDemoCommand: Command = {
  name: 'tls-demo',
  summary: 'Serve a small HTTPS page with the Outpost TLS server',
}
