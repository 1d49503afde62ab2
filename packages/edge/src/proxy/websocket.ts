/**
 * HTTP/1.1 Upgrade passthrough (WebSocket, RFC 6455 §4): the edge forwards the
 * upgrade request, with forwarding headers, to the origin over a fresh
 * connection and then tunnels bytes both ways; the origin's 101 answer (or its
 * refusal) reaches the visitor unchanged. No frame is parsed here.
 */
import type { IncomingMessage } from 'node:http'
import { connect as netConnect, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import type { Duplex } from 'node:stream'
import { originRequestHeaders } from './headers.ts'
import { hostOf } from '../cache/http-cache.ts'
import { first } from '../cache/policy.ts'
import { siteFor, type DataPlaneState } from './sites.ts'
import type { ConnInfo } from './handler.ts'

export interface UpgradeOptions {
  readonly connectTimeoutMs: number
  readonly onError?: (e: unknown, what: string) => void
}

/** Tunnels one Upgrade request to its site's origin. */
export function tunnelUpgrade(
  state: DataPlaneState,
  req: IncomingMessage,
  visitor: Duplex,
  head: Buffer,
  conn: ConnInfo,
  options: UpgradeOptions,
): void {
  const host = hostOf(req.headers)
  const site = host === undefined ? undefined : siteFor(state, host)
  if (site === undefined || host === undefined) {
    refuse(visitor, 421, 'Misdirected Request')
    return
  }
  const forward = originRequestHeaders(req.headers, {
    clientIp: conn.clientIp,
    proto: conn.secure ? 'https' : 'http',
    host: first(req.headers, 'host') ?? host,
    httpVersion: req.httpVersion,
  })
  // Upgrade and Connection are hop-by-hop, but this hop asks for the same upgrade.
  const upgrade = first(req.headers, 'upgrade') ?? 'websocket'
  const lines = [`${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1`]
  for (const [k, v] of Object.entries(forward)) {
    for (const one of typeof v === 'string' ? [v] : v)
      lines.push(`${k}: ${one.replace(/[\r\n]/g, '')}`)
  }
  lines.push(`connection: Upgrade`, `upgrade: ${upgrade.replace(/[\r\n]/g, '')}`)
  const o = site.origin
  const port = Number(o.port !== '' ? o.port : o.protocol === 'https:' ? 443 : 80)
  const hostname = o.hostname.replace(/^\[|\]$/g, '')
  const upstream: Socket =
    o.protocol === 'https:'
      ? tlsConnect({ host: hostname, port, servername: hostname })
      : netConnect({ host: hostname, port })
  upstream.setTimeout(options.connectTimeoutMs)
  let connected = false
  upstream.once('timeout', () => {
    if (!connected) upstream.destroy(new Error('connect timeout'))
  })
  upstream.once(o.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
    connected = true
    upstream.setTimeout(0)
    upstream.write(lines.join('\r\n') + '\r\n\r\n')
    if (head.length > 0) upstream.write(head)
    upstream.pipe(visitor)
    visitor.pipe(upstream)
  })
  upstream.on('error', (e) => {
    options.onError?.(e, 'upgrade')
    if (!connected) refuse(visitor, 502, 'Bad Gateway')
    else visitor.destroy()
  })
  visitor.on('error', () => upstream.destroy())
  visitor.on('close', () => upstream.destroy())
  upstream.on('close', () => visitor.destroy())
}

function refuse(visitor: Duplex, status: number, reason: string): void {
  const body = `${status} ${reason}\n`
  visitor.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
  )
}
