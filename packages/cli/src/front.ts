/**
 * The local deployment's HTTPS front until the edge (packages/edge) takes over:
 * Outpost's TLS 1.3 server with keyless signatures, proxying HTTP/1.1 to a small
 * demo origin. It holds the site's public chain and a keyless client; no key.
 */
import { createServer as createHttpServer, request, type Server } from 'node:http'
import { readFileSync } from 'node:fs'
import { X509Certificate } from 'node:crypto'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import {
  createTlsServer,
  certificatesFromPem,
  schemesForKey,
  StaticCertificateSource,
  RotatingStekProvider,
} from '@outpost/tls'
import { KeylessClient, RemoteSigner, skiOf } from '@outpost/keyless'

export interface FrontOptions {
  readonly listen: { host: string; port: number }
  readonly originPort: number
  readonly chainPem: Uint8Array
  readonly keyServer: { host: string; port: number }
  readonly caFile: string
  readonly clientCertFile: string
  readonly clientKeyFile: string
}

export interface Front {
  readonly address: AddressInfo
  readonly originPort: number
  close(): Promise<void>
}

async function listen(
  server: Server | import('node:net').Server,
  host: string,
  port: number,
): Promise<AddressInfo> {
  server.listen(port, host)
  await once(server, 'listening')
  return server.address() as AddressInfo
}

export async function startFront(o: FrontOptions): Promise<Front> {
  const origin = createHttpServer((req, res) => {
    const body = `Hello from the demo origin.\nYou asked for ${req.url ?? '/'} via ${String(req.headers['x-forwarded-proto'] ?? 'http')}; the edge that served you holds no private key.\n`
    res.writeHead(200, {
      'content-type': 'text/plain; charset=utf-8',
      'cache-control': 'max-age=60',
    })
    res.end(body)
  })
  const originAddr = await listen(origin, '127.0.0.1', o.originPort)

  const key = readFileSync(o.clientKeyFile)
  const client = new KeylessClient({
    servers: [{ host: o.keyServer.host, port: o.keyServer.port, servername: 'localhost' }],
    ca: readFileSync(o.caFile),
    cert: readFileSync(o.clientCertFile),
    key,
  })
  key.fill(0)
  const chain = certificatesFromPem(o.chainPem)
  const leaf = new X509Certificate(chain[0] ?? new Uint8Array())
  const signer = new RemoteSigner({
    client,
    ski: skiOf(leaf.publicKey),
    schemes: schemesForKey(leaf.publicKey),
  })
  const steks = new RotatingStekProvider()

  const proxy = createHttpServer((req, res) => {
    const upstream = request(
      {
        host: '127.0.0.1',
        port: originAddr.port,
        method: req.method,
        path: req.url,
        headers: {
          ...req.headers,
          'x-forwarded-proto': 'https',
          'x-forwarded-for': req.socket.remoteAddress ?? '',
        },
      },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers)
        r.pipe(res)
      },
    )
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' })
      res.end('502 Bad Gateway: the origin is unreachable\n')
    })
    req.pipe(upstream)
  })
  const tls = createTlsServer(
    {
      certificates: new StaticCertificateSource([{ chain, signer }]),
      alpnProtocols: ['http/1.1'],
      stekProvider: steks,
    },
    (conn) => proxy.emit('connection', conn),
  )
  tls.on('tlsClientError', () => undefined)
  const address = await listen(tls, o.listen.host, o.listen.port)
  return {
    address,
    originPort: originAddr.port,
    close: async () => {
      tls.close()
      proxy.close()
      origin.close()
      proxy.closeAllConnections()
      origin.closeAllConnections()
      await client.close()
    },
  }
}
