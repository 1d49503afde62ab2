/**
 * The ceiling for the edge's reject path: node:http alone answering every request
 * with the same 429 the edge sends (no routing, no engine, no metrics), in its own
 * process (pinned by the parent like the edge). Prints {"address": "..."} and stops
 * on SIGTERM.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

const body = Buffer.from(
  JSON.stringify({ error: 'rate_limited', message: 'Too many requests; see Retry-After.' }),
)
const headers = [
  'content-type',
  'application/json',
  'cache-control',
  'no-store',
  'retry-after',
  '1',
  'content-length',
  String(body.length),
]
const server = createServer({ keepAliveTimeout: 5000 }, (_req, res) => {
  res.writeHead(429, headers)
  res.end(body)
})
server.listen(0, '127.0.0.1', () => {
  const a = server.address() as AddressInfo
  process.stdout.write(JSON.stringify({ address: `${a.address}:${a.port}` }) + '\n')
})
process.once('SIGTERM', () => {
  server.closeAllConnections()
  server.close(() => process.exit(0))
})
