/**
 * The middleware chain of both listeners: request id, error envelope, security
 * headers, body limit + parsing, route match, authentication/scope, schema
 * validation, then the handler. Each is a few lines and testable alone.
 */
import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { TLSSocket } from 'node:tls'
import { ControlError, errorEnvelope } from '../errors.ts'
import { compose, type Ctx, type Middleware, type Principal, type Router } from './router.ts'

/** Sets `x-request-id` (a fresh UUID; a client-supplied id is not trusted). */
export const requestId: Middleware = async (c, next) => {
  c.headers['x-request-id'] = c.requestId
  await next()
}

/** Turns any thrown error into the JSON envelope (or a redirect for dashboard pages). */
export function errorHandler(log: (e: unknown, c: Ctx) => void): Middleware {
  return async (c, next) => {
    try {
      await next()
    } catch (e) {
      if (!(e instanceof ControlError)) log(e, c)
      if (
        c.route?.kind === 'html' &&
        e instanceof ControlError &&
        e.code === 'ERR_CONTROL_UNAUTHENTICATED'
      ) {
        c.status = 303
        c.headers['location'] = '/ui/login'
        c.payload = undefined
        return
      }
      const env = errorEnvelope(e)
      c.status = env.status
      sendJson(c, env.body)
    }
  }
}

/** Strict headers on every response; the dashboard needs no script at all. */
export const securityHeaders: Middleware = async (c, next) => {
  c.headers['content-security-policy'] =
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
  c.headers['x-content-type-options'] = 'nosniff'
  c.headers['referrer-policy'] = 'no-referrer'
  c.headers['cache-control'] = 'no-store'
  if (c.secure) c.headers['strict-transport-security'] = 'max-age=31536000'
  await next()
}

/** Reads the body (at most `limit` bytes) into `c.rawBody`. */
export function bodyLimit(limit: number): Middleware {
  return async (c, next) => {
    if (c.method === 'GET' || c.method === 'HEAD') return next()
    const declared = Number(c.req.headers['content-length'] ?? '0')
    if (declared > limit) {
      throw new ControlError(
        'ERR_CONTROL_BODY_TOO_LARGE',
        `Cannot read request body: ${declared} bytes is over the ${limit}-byte limit`,
      )
    }
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of c.req) {
      const b = chunk as Buffer
      size += b.length
      if (size > limit) {
        c.res.setHeader('connection', 'close')
        throw new ControlError(
          'ERR_CONTROL_BODY_TOO_LARGE',
          `Cannot read request body: over the ${limit}-byte limit`,
        )
      }
      chunks.push(b)
    }
    c.rawBody = Buffer.concat(chunks)
    await next()
  }
}

/** Matches the route and parses the body by its kind (JSON or an HTML form). */
export function routing(router: Router): Middleware {
  return async (c, next) => {
    const { route, params } = router.match(c.method, c.url.pathname)
    c.route = route
    c.params = params
    const raw = c.rawBody
    if (raw !== undefined && raw.length > 0) {
      const type = (c.req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase()
      if (type === 'application/json') {
        try {
          c.body = JSON.parse(raw.toString('utf8')) as unknown
        } catch (e) {
          throw new ControlError(
            'ERR_CONTROL_BAD_REQUEST',
            `Cannot parse request body as JSON: ${(e as Error).message}`,
          )
        }
      } else if (type === 'application/x-www-form-urlencoded' && route.kind === 'html') {
        c.body = Object.fromEntries(new URLSearchParams(raw.toString('utf8')))
      } else {
        throw new ControlError(
          'ERR_CONTROL_UNSUPPORTED_MEDIA',
          `Cannot read request body: content type "${type ?? ''}" is not supported here`,
        )
      }
    }
    await next()
  }
}

/** Authenticates non-public routes and checks the route's scope (`admin` implies all). */
export function auth(authenticate: (c: Ctx) => Promise<Principal | undefined>): Middleware {
  return async (c, next) => {
    const route = c.route
    if (route === undefined || route.scope === 'public') return next()
    const p = await authenticate(c)
    if (p === undefined) {
      throw new ControlError(
        'ERR_CONTROL_UNAUTHENTICATED',
        'Cannot authenticate: missing or unknown token',
      )
    }
    c.principal = p
    const ok =
      p.scopes.includes('admin') ||
      p.scopes.includes(route.scope) ||
      (route.method === 'GET' && p.scopes.includes('read'))
    if (!ok) {
      throw new ControlError(
        'ERR_CONTROL_FORBIDDEN',
        `Cannot ${route.method} ${route.path}: the token lacks scope "${route.scope}"`,
      )
    }
    await next()
  }
}

/** Validates the body against the route's schema, naming the field at fault. */
export const validate: Middleware = async (c, next) => {
  const schema = c.route?.body
  if (schema !== undefined) {
    const r = schema.safeParse(c.body ?? {})
    if (!r.success) {
      const msg = r.error.issues
        .map((i) => `${i.path.length > 0 ? i.path.map(String).join('.') : '(body)'}: ${i.message}`)
        .join('; ')
      throw new ControlError('ERR_CONTROL_VALIDATION', `Cannot accept request body: ${msg}`)
    }
    c.body = r.data
  }
  await next()
}

/** Calls the handler; a returned value becomes the JSON body. */
export const dispatch: Middleware = async (c, next) => {
  const route = c.route
  if (route === undefined) return next()
  const out = await route.handler(c)
  if (route.kind !== 'html' && c.payload === undefined) {
    c.status = route.status ?? 200
    sendJson(c, out ?? {})
  }
}

export function sendJson(c: Ctx, value: unknown): void {
  c.headers['content-type'] = 'application/json; charset=utf-8'
  c.payload = Buffer.from(JSON.stringify(value))
}

export function sendHtml(c: Ctx, status: number, html: string): void {
  c.status = status
  c.headers['content-type'] = 'text/html; charset=utf-8'
  c.payload = Buffer.from(html)
}

export interface ServeOptions {
  readonly router: Router
  readonly middleware: readonly Middleware[]
}

/** A node:http request listener that runs the chain and writes the response. */
export function serve(o: ServeOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const chain = compose(o.middleware)
  return (req, res) => {
    const socket = req.socket as Partial<TLSSocket>
    const secure = socket.encrypted === true
    const peer =
      secure && typeof socket.getPeerX509Certificate === 'function'
        ? socket.getPeerX509Certificate()
        : undefined
    const c: Ctx = {
      req,
      res,
      method: req.method ?? 'GET',
      url: new URL(req.url ?? '/', 'http://control.invalid'),
      requestId: randomUUID(),
      secure,
      params: {},
      rawBody: undefined,
      body: undefined,
      principal: undefined,
      peerCert: peer,
      route: undefined,
      status: 404,
      headers: {},
      payload: undefined,
      wipeAfterSend: false,
    }
    void chain(c, () => Promise.resolve()).then(
      () => {
        const payload = c.payload
        res.writeHead(c.status, {
          ...c.headers,
          ...(payload ? { 'content-length': String(payload.length) } : {}),
        })
        // Lease responses carry STEKs: wipe our copy once the socket has it.
        if (c.wipeAfterSend && payload) res.once('finish', () => payload.fill(0))
        res.end(c.method === 'HEAD' ? undefined : payload)
      },
      () => {
        res.writeHead(500).end()
      },
    )
  }
}
