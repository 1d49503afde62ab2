/**
 * The real edge in its own process (pinned by the parent with taskset), plaintext,
 * two sites on one origin: `serve.test` (no protection: the proxy path) and
 * `limit.test` (per-IP GCRA 10 r/s, burst 20: a flood takes the 429 path).
 * `--no-front-door` turns the HTTP/1.1 front door off (every request through node:http).
 * Prints {"address": "..."} and stops on SIGTERM.
 */
import { startEdge } from '@outpost/edge'

const origin = process.argv[2] ?? ''
const frontDoor = !process.argv.includes('--no-front-door')
const edge = await startEdge({
  listen: '127.0.0.1:0',
  plaintext: true,
  sites: [
    { hosts: ['serve.test'], origin, cache: false },
    {
      hosts: ['limit.test'],
      origin,
      cache: false,
      protection: {
        rules: [{ id: 'per-ip', action: 'rate-limit', rateLimit: { rate: '10r/s', burst: 20 } }],
      },
    },
  ],
  limits: { perIp: { maxConnections: 10_000 }, http1: { maxRequestsPerSocket: 0, frontDoor } },
})
process.stdout.write(JSON.stringify({ address: edge.address }) + '\n')
process.once('SIGTERM', () => {
  void edge.close(100).finally(() => process.exit(0))
})
