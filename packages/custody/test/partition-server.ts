/**
 * Safe-region side of the partition test, run inside its own network namespace:
 * a TangServer and a lease endpoint (`POST /lease` → `{}`) on one HTTP server.
 * argv: BIND_ADDR PORT TANG_DIR. Prints "ready" when listening.
 */
import { createServer } from 'node:http'
import { TangServer } from '@outpost/custody'

const [addr = '127.0.0.1', port = '0', dir = '/tmp/outpost-partition-tang'] = process.argv.slice(2)
const tang = new TangServer({ dir, prefix: '/tang' })
const http = createServer((req, res) => {
  if (req.url === '/lease' && req.method === 'POST') {
    req.resume()
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end('{}')
    return
  }
  tang.handle(req, res).then(
    (done) => {
      if (!done) res.writeHead(404).end()
    },
    () => res.writeHead(500).end(),
  )
})
http.listen(Number(port), addr, () => {
  process.stdout.write('ready\n')
})
process.on('SIGTERM', () => {
  http.closeAllConnections()
  http.close()
  void tang.close()
})
