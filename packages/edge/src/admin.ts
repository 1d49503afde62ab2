/**
 * The edge's admin API (loopback only, bearer token):
 *
 *   POST /purge   {"url"|"prefix"|"host"|"tag": "..."}  → {"purged": n}
 *   POST /reload                                          → {"reloaded": true}
 *   GET  /healthz (no token)                              → {"ok": true}
 *
 * The config holds only SHA-256(token); a presented token is hashed and the
 * digests compared in constant time, so neither the token nor its length
 * leaks through timing.
 */
import { createHash } from 'node:crypto'
import { ctEqual } from '@outpost/wire'
import http from 'node:http'
import type { PurgeSelector } from './cache/disk-store.ts'
import { errorPage } from './proxy/pages.ts'

export interface AdminActions {
  purge(sel: PurgeSelector): Promise<number>
  reload(): Promise<void>
}

const MAX_BODY = 64 * 1024

/** True when `authorization` is "Bearer <token>" and SHA-256(token) equals `expected`. */
export function checkBearer(authorization: string | undefined, expected: Uint8Array): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')
  const token = m?.[1]
  // Hash even when absent so a missing token costs the same as a wrong one.
  const presented = Buffer.from(token ?? '', 'utf8')
  const digest = createHash('sha256').update(presented).digest()
  presented.fill(0)
  return ctEqual(digest, expected) && token !== undefined
}

/** Parses a purge body: exactly one non-empty selector. */
export function parsePurge(body: unknown): PurgeSelector | undefined {
  if (typeof body !== 'object' || body === null) return undefined
  const entries = Object.entries(body as Record<string, unknown>)
  if (entries.length !== 1) return undefined
  const e = entries[0]
  if (e === undefined) return undefined
  const [k, v] = e
  if (typeof v !== 'string' || v === '') return undefined
  switch (k) {
    case 'url':
      return { url: v }
    case 'prefix':
      return { prefix: v }
    case 'host':
      return { host: v }
    case 'tag':
      return { tag: v }
    default:
      return undefined
  }
}

export function createAdminServer(tokenSha256: Uint8Array, actions: AdminActions): http.Server {
  return http.createServer((req, res) => {
    void handle(req, res, tokenSha256, actions)
  })
}

async function handle(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  tokenSha256: Uint8Array,
  actions: AdminActions,
): Promise<void> {
  const json = (status: number, v: unknown): void => {
    const body = JSON.stringify(v) + '\n'
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
    res.end(body)
  }
  const url = req.url ?? '/'
  if (req.method === 'GET' && url === '/healthz') {
    json(200, { ok: true })
    return
  }
  if (!checkBearer(req.headers.authorization, tokenSha256)) {
    req.resume()
    const page = errorPage('unauthorized', { accept: 'application/json' }, '-')
    res.writeHead(401, { ...page.headers, 'www-authenticate': 'Bearer realm="outpost-edge"' })
    res.end(page.body)
    return
  }
  let raw: Buffer
  try {
    raw = await readBody(req)
  } catch {
    json(413, { error: { status: 413, title: 'Payload too large' } })
    return
  }
  try {
    if (req.method === 'POST' && url === '/purge') {
      let parsed: unknown
      try {
        parsed = JSON.parse(raw.toString('utf8'))
      } catch {
        parsed = undefined
      }
      const sel = parsePurge(parsed)
      if (sel === undefined) {
        json(400, {
          error: {
            status: 400,
            title: 'Bad request',
            detail: 'Expected exactly one of url, prefix, host, tag',
          },
        })
        return
      }
      json(200, { purged: await actions.purge(sel) })
      return
    }
    if (req.method === 'POST' && url === '/reload') {
      await actions.reload()
      json(200, { reloaded: true })
      return
    }
    json(404, { error: { status: 404, title: 'Not found' } })
  } catch (e) {
    json(500, { error: { status: 500, title: 'Internal error', detail: (e as Error).message } })
  }
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let n = 0
    req.on('data', (c: Buffer) => {
      n += c.length
      if (n > MAX_BODY) {
        req.destroy()
        reject(new Error('body too large'))
      } else chunks.push(c)
    })
    req.on('end', () => {
      resolve(Buffer.concat(chunks))
    })
    req.on('error', reject)
  })
}
