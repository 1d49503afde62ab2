/** Test fixtures: a controllable origin, an edge on loopback, a fake clock and a client. */
import http from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo, Socket } from 'node:net'
import { Agent, request } from 'undici'
import { startEdge, type RunningEdge, type StartEdgeOptions } from '../src/index.ts'
import type { EdgeConfigInput } from '../src/config.ts'

export interface Origin {
  readonly url: string
  readonly port: number
  readonly server: http.Server
  /** Every request the origin received (method, url, headers). */
  readonly seen: { method: string; url: string; headers: http.IncomingHttpHeaders }[]
  handler: http.RequestListener
  close(): Promise<void>
}

export async function startOrigin(
  handler: http.RequestListener = (_q, s) => s.end('ok'),
): Promise<Origin> {
  const seen: Origin['seen'] = []
  const sockets = new Set<Socket>()
  let current = handler
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers })
    current(req, res)
  })
  server.on('connection', (sock) => {
    sockets.add(sock)
    sock.once('close', () => sockets.delete(sock))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    seen,
    get handler() {
      return current
    },
    set handler(h: http.RequestListener) {
      current = h
    },
    async close() {
      server.closeAllConnections()
      for (const sock of sockets) sock.destroy()
      await new Promise<void>((r) =>
        server.close(() => {
          r()
        }),
      )
    },
  }
}

export class FakeClock {
  t = Date.parse('2026-01-01T00:00:00Z')
  readonly now = (): number => this.t
  advance(seconds: number): void {
    this.t += seconds * 1000
  }
  date(offsetSeconds = 0): string {
    return new Date(this.t + offsetSeconds * 1000).toUTCString()
  }
}

export interface EdgeFixture {
  readonly edge: RunningEdge
  readonly dir: string
  readonly base: string
  readonly agent: Agent
  get(path: string, headers?: Record<string, string>, method?: string): Promise<Reply>
  close(): Promise<void>
}

export interface Reply {
  status: number
  headers: Record<string, string | string[] | undefined>
  text: string
}

export const ADMIN_TOKEN = 'test-admin-token-0123456789'
import { createHash } from 'node:crypto'
export const adminTokenSha256 = createHash('sha256').update(ADMIN_TOKEN).digest('hex')

export async function startTestEdge(
  origin: string,
  extra: Partial<EdgeConfigInput> = {},
  options: StartEdgeOptions = {},
): Promise<EdgeFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'edge-test-'))
  const config: EdgeConfigInput = {
    listen: '127.0.0.1:0',
    plaintext: true,
    sites: [{ hosts: ['site.test', 'www.site.test'], origin }],
    cache: { dir: join(dir, 'cache'), maxBytes: 10 * 1024 * 1024 },
    timeouts: { connectMs: 1000, headersMs: 1000, bodyIdleMs: 1000 },
    ...extra,
  }
  const edge = await startEdge(config, options)
  const agent = new Agent({ keepAliveTimeout: 1000 })
  const base = `http://${edge.address}`
  return {
    edge,
    dir,
    base,
    agent,
    async get(path, headers = {}, method = 'GET') {
      const r = await request(base + path, {
        method: method as 'GET',
        headers: { host: 'site.test', ...headers },
        dispatcher: agent,
      })
      const text = await r.body.text()
      return { status: r.statusCode, headers: r.headers, text }
    },
    async close() {
      await agent.close()
      await edge.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** Sends raw HTTP/1.1 bytes and returns the raw response (headers undici would not let us send). */
export async function rawRequest(address: string, text: string): Promise<string> {
  const { connect } = await import('node:net')
  const i = address.lastIndexOf(':')
  return new Promise((resolve, reject) => {
    const s = connect(Number(address.slice(i + 1)), address.slice(0, i))
    let out = ''
    s.setEncoding('latin1')
    s.on('data', (d: string) => (out += d))
    s.on('end', () => {
      resolve(out)
    })
    s.on('error', reject)
    s.write(text)
  })
}
