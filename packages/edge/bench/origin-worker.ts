/** The benchmark's origin, in its own thread: fixed bodies, cacheable or not by path. */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { parentPort } from 'node:worker_threads'

const small = Buffer.alloc(1024, 'a')
const large = Buffer.alloc(16 * 1024, 'b')
const server = http.createServer((req, res) => {
  const url = req.url ?? '/'
  if (url.startsWith('/cached/')) {
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'cache-control': 'max-age=3600',
      'content-length': large.length,
    })
    res.end(large)
    return
  }
  res.writeHead(200, {
    'content-type': 'text/plain',
    'cache-control': 'no-store',
    'content-length': small.length,
  })
  res.end(small)
})
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => {
  parentPort?.postMessage((server.address() as AddressInfo).port)
})
parentPort?.on('message', (m) => {
  if (m === 'close') {
    server.closeAllConnections()
    server.close()
    parentPort?.close()
  }
})
