/**
 * The local admin API: HTTP/1.1 over a Unix socket created with mode 0600, so
 * only the key server's user can seal, unseal, import keys or revoke nodes.
 * There is no network listener. Secrets (shares, keys) are read into Buffers, never
 * into JS strings, and the CLI sends them sealed to a one-time transport key
 * (admin-transport.ts), so node's I/O buffers never hold them in plaintext; a
 * plaintext body (curl) is still accepted.
 *
 *   GET  /v1/status             seal state and progress
 *   POST /v1/transport          body: X25519 public key -> one-time transport key
 *   POST /v1/unseal             body: one share  -> progress
 *   POST /v1/seal               wipe every key from memory
 *   GET  /v1/keys               SKI, type and policy of every key
 *   POST /v1/keys               body: private key PEM; header x-outpost-policy: JSON
 *   GET  /v1/revocations        revoked node ids
 *   PUT  /v1/revocations        body: JSON array of node ids (replaces the list)
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs'
import { createServer, request, type IncomingMessage, type Server } from 'node:http'
import { dirname } from 'node:path'
import { sealForTransport, TRANSPORT_HEADER, TransportKeys } from './admin-transport.ts'
import { KeyServerError } from './errors.ts'

const MAX_BODY = 64 * 1024

export interface AdminRoutes {
  status(): unknown
  unseal(share: Uint8Array): unknown
  seal(): unknown
  listKeys(): unknown
  importKey(key: Uint8Array, policy: unknown): unknown
  listRevocations(): unknown
  replaceRevocations(ids: unknown): unknown
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const c of req) {
    const chunk = c as Buffer
    size += chunk.length
    if (size > MAX_BODY) {
      for (const x of chunks) x.fill(0)
      chunk.fill(0)
      throw new KeyServerError(
        'ERR_KEYSERVER_ADMIN',
        `Cannot read request: body over ${MAX_BODY} bytes`,
      )
    }
    chunks.push(chunk)
  }
  const body = Buffer.concat(chunks)
  for (const x of chunks) x.fill(0)
  return body
}

function statusOf(e: unknown): number {
  const code = (e as { code?: unknown }).code
  if (code === 'ERR_KEYSERVER_SEALED') return 409
  if (code === 'ERR_KEYSERVER_UNSEAL') return 403
  if (typeof code === 'string' && code.startsWith('ERR_KEYSERVER_')) return 400
  return 500
}

/** Starts the admin API on `path` (replacing a stale socket file). */
export async function serveAdmin(path: string, routes: AdminRoutes): Promise<Server> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
  if (existsSync(path)) {
    if (!lstatSync(path).isSocket()) {
      throw new KeyServerError(
        'ERR_KEYSERVER_ADMIN',
        `Cannot listen on ${path}: a file that is not a socket is in the way`,
      )
    }
    if (await socketAnswers(path)) {
      throw new KeyServerError(
        'ERR_KEYSERVER_ADMIN',
        `Cannot listen on ${path}: another key server is using it`,
      )
    }
    unlinkSync(path)
  }
  const transport = new TransportKeys()
  /** The request's secret payload: opened if it came sealed (admin-transport.ts), else the body. */
  const opened = async (req: IncomingMessage, route: string, body: Buffer): Promise<Buffer> => {
    const id = req.headers[TRANSPORT_HEADER]
    if (typeof id !== 'string') return body
    return transport.open(id, route, body)
  }
  const server = createServer((req, res) => {
    void (async () => {
      let body: Buffer | undefined
      let secret: Buffer | undefined
      try {
        const route = `${req.method ?? ''} ${req.url ?? ''}`
        let out: unknown
        switch (route) {
          case 'GET /v1/status':
            out = routes.status()
            break
          case 'POST /v1/transport':
            body = await readBody(req)
            out = transport.offer(body)
            break
          case 'POST /v1/unseal':
            body = await readBody(req)
            secret = await opened(req, route, body)
            out = routes.unseal(secret)
            break
          case 'POST /v1/seal':
            transport.clear()
            out = await routes.seal()
            break
          case 'GET /v1/keys':
            out = routes.listKeys()
            break
          case 'POST /v1/keys': {
            const header = req.headers['x-outpost-policy']
            const policy: unknown =
              typeof header === 'string' && header !== '' ? JSON.parse(header) : {}
            body = await readBody(req)
            secret = await opened(req, route, body)
            out = routes.importKey(secret, policy)
            break
          }
          case 'GET /v1/revocations':
            out = routes.listRevocations()
            break
          case 'PUT /v1/revocations': {
            const text = (await readBody(req)).toString('utf8')
            out = routes.replaceRevocations(JSON.parse(text))
            break
          }
          default:
            res.writeHead(404, { 'content-type': 'application/json' })
            res.end(
              JSON.stringify({ error: { code: 'ERR_NOT_FOUND', message: `No route ${route}` } }),
            )
            return
        }
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify(out ?? {}))
      } catch (e) {
        const err = e as { code?: unknown; message?: unknown }
        const status = e instanceof SyntaxError ? 400 : statusOf(e)
        res.writeHead(status, { 'content-type': 'application/json' })
        res.end(
          JSON.stringify({
            error: { code: err.code ?? 'ERR_INTERNAL', message: String(err.message) },
          }),
        )
      } finally {
        body?.fill(0)
        secret?.fill(0)
      }
    })()
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    // Bind with a umask that leaves the socket 0600 from the first instant
    // (process.umask is not available in worker threads; chmod covers that).
    let old: number | undefined
    try {
      old = process.umask(0o177)
    } catch {
      old = undefined
    }
    try {
      server.listen(path, () => {
        server.off('error', reject)
        resolve()
      })
    } finally {
      if (old !== undefined) process.umask(old)
    }
  })
  chmodSync(path, 0o600)
  server.on('close', () => {
    transport.clear()
  })
  return server
}

function socketAnswers(path: string): Promise<boolean> {
  return adminRequest(path, 'GET', '/v1/status').then(
    () => true,
    () => false,
  )
}

export interface AdminResponse {
  readonly status: number
  readonly body: unknown
}

/** One request to the admin API. Rejects only if the socket cannot be reached. */
export function adminRequest(
  socketPath: string,
  method: string,
  path: string,
  body?: Uint8Array,
  headers: Record<string, string> = {},
): Promise<AdminResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, headers, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let parsed: unknown = text
        try {
          parsed = JSON.parse(text)
        } catch {
          // keep text
        }
        resolve({ status: res.statusCode ?? 0, body: parsed })
      })
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`admin request to ${socketPath} timed out`)))
    req.on('error', reject)
    req.end(body)
  })
}

/**
 * A request whose body is a secret (a share, a private key), sealed to a one-time transport
 * key first (admin-transport.ts): POST /v1/transport, then the request itself.
 */
export async function sealedAdminRequest(
  socketPath: string,
  method: string,
  path: string,
  secret: Uint8Array,
  headers: Record<string, string> = {},
): Promise<AdminResponse> {
  let refused: AdminResponse | undefined
  const sealed = await sealForTransport(`${method} ${path}`, secret, async (clientPublic) => {
    const r = await adminRequest(socketPath, 'POST', '/v1/transport', clientPublic)
    const b = r.body as { id?: unknown; publicKey?: unknown }
    if (r.status === 200 && typeof b.id === 'string' && typeof b.publicKey === 'string')
      return { id: b.id, publicKey: b.publicKey }
    refused = r
    return undefined
  })
  if (sealed === undefined) return refused as AdminResponse
  return adminRequest(socketPath, method, path, sealed.body, {
    ...headers,
    [TRANSPORT_HEADER]: sealed.id,
  })
}
