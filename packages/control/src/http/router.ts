/**
 * A small in-house router in the hono style: a route table (method, path with
 * `:params`, required scope, zod request/response schemas, handler) and
 * koa-compose middleware. The same table generates the OpenAPI document
 * (openapi.ts), so a route cannot exist without being documented.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { X509Certificate } from 'node:crypto'
import type { z } from 'zod'
import { ControlError } from '../errors.ts'

export const SCOPES = ['admin', 'read', 'nodes:write', 'orgs:write', 'screening'] as const
export type Scope = (typeof SCOPES)[number]

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

/** Who made the request: a token (API) or a dashboard session. */
export interface Principal {
  readonly tokenId: string
  readonly name: string
  readonly scopes: readonly Scope[]
}

export interface Ctx {
  readonly req: IncomingMessage
  readonly res: ServerResponse
  readonly method: string
  readonly url: URL
  readonly requestId: string
  readonly secure: boolean
  params: Record<string, string>
  rawBody: Buffer | undefined
  body: unknown
  principal: Principal | undefined
  peerCert: X509Certificate | undefined
  route: Route | undefined
  status: number
  headers: Record<string, string>
  payload: Buffer | undefined
  /** Zero `payload` once sent (responses carrying secrets). */
  wipeAfterSend: boolean
}

export type Next = () => Promise<void>
export type Middleware = (c: Ctx, next: Next) => Promise<void>

export interface Route {
  readonly method: Method
  readonly path: string
  readonly summary: string
  readonly tag: string
  /** `public`: no token; otherwise a token (or session) with this scope or `admin`. */
  readonly scope: Scope | 'public'
  readonly body?: z.ZodType
  readonly response?: z.ZodType
  /** Response status on success (default 200). */
  readonly status?: number
  /** `json` (default), `html` (dashboard; form bodies), or `raw` (handler sets payload). */
  readonly kind?: 'json' | 'html'
  readonly handler: (c: Ctx) => unknown
}

/** Runs middleware in order; each calls `next()` at most once (koa-compose). */
export function compose(mws: readonly Middleware[]): (c: Ctx, last: Next) => Promise<void> {
  return (c, last) => {
    let index = -1
    const dispatch = async (i: number): Promise<void> => {
      if (i <= index) throw new Error('Cannot continue: next() called multiple times')
      index = i
      const mw = mws[i]
      if (mw === undefined) return last()
      return mw(c, () => dispatch(i + 1))
    }
    return dispatch(0)
  }
}

interface Compiled {
  readonly route: Route
  readonly re: RegExp
  readonly names: readonly string[]
}

function compile(route: Route): Compiled {
  const names: string[] = []
  const src = route.path
    .split('/')
    .map((seg) => {
      if (seg.startsWith(':')) {
        names.push(seg.slice(1))
        return '([^/]+)'
      }
      return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    })
    .join('/')
  return { route, re: new RegExp(`^${src}$`), names }
}

export class Router {
  readonly routes: Route[] = []
  readonly #compiled: Compiled[] = []

  add(...routes: readonly Route[]): this {
    for (const r of routes) {
      if (this.routes.some((x) => x.method === r.method && x.path === r.path)) {
        throw new Error(`Cannot add route: ${r.method} ${r.path} is already registered`)
      }
      this.routes.push(r)
      this.#compiled.push(compile(r))
    }
    return this
  }

  /** The route for a request, with its decoded params; throws 404/405 ControlErrors. */
  match(method: string, pathname: string): { route: Route; params: Record<string, string> } {
    let pathMatched = false
    for (const c of this.#compiled) {
      const m = c.re.exec(pathname)
      if (!m) continue
      pathMatched = true
      if (c.route.method !== method && !(method === 'HEAD' && c.route.method === 'GET')) continue
      const params: Record<string, string> = {}
      c.names.forEach((n, i) => {
        try {
          params[n] = decodeURIComponent(m[i + 1] ?? '')
        } catch {
          throw new ControlError('ERR_CONTROL_BAD_REQUEST', `Cannot decode path parameter "${n}"`)
        }
      })
      return { route: c.route, params }
    }
    if (pathMatched) {
      throw new ControlError(
        'ERR_CONTROL_METHOD_NOT_ALLOWED',
        `Cannot ${method} ${pathname}: method not allowed`,
      )
    }
    throw new ControlError('ERR_CONTROL_NOT_FOUND', `Cannot find ${pathname}`)
  }
}
