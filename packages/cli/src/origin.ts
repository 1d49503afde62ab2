/**
 * The local deployment's demo origin: a small HTTP server behind the edge that
 * says which edge protocol reached it.
 */
import { createServer, type Server } from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'

export interface Origin {
  readonly address: AddressInfo
  close(): Promise<void>
}

export async function startOrigin(port: number): Promise<Origin> {
  const server: Server = createServer((req, res) => {
    const body =
      `Hello from the demo origin.\n` +
      `You asked for ${req.url ?? '/'} via ${String(req.headers['x-forwarded-proto'] ?? 'http')}; ` +
      `the edge that served you holds no private key.\n`
    res.writeHead(200, {
      'content-type': 'text/plain; charset=utf-8',
      'cache-control': 'public, max-age=60',
    })
    res.end(body)
  })
  server.listen(port, '127.0.0.1')
  await once(server, 'listening')
  return {
    address: server.address() as AddressInfo,
    close: async () => {
      server.closeAllConnections()
      server.close()
      await once(server, 'close')
    },
  }
}
