/**
 * One visitor request, from Host to bytes: pick the site, answer from the cache
 * when RFC 9111 allows, otherwise forward to the origin through its keep-alive
 * pool and stream the answer back (storing a copy when it is storable and fits).
 *
 *   lookup ──► fresh ─────────────────────────────► serve stored (HIT)
 *          ├─► stale, stale-while-revalidate ─────► serve stored (STALE) + refresh once
 *          ├─► stale ─► conditional GET ─► 304 ───► update headers, serve (REVALIDATED)
 *          │                           ├─► 5xx/no answer + stale-if-error ─► serve (STALE)
 *          │                           └─► 200 ───► stream + store (EXPIRED)
 *          └─► miss ──► GET ──────────────────────► stream + store (MISS)
 *
 * Bodies are never buffered to answer a visitor: origin bytes are written as
 * they arrive, with backpressure, and a copy is collected only while it stays
 * under `maxEntryBytes`.
 *
 * Sites with `protection` (docs/protect.md) are checked first, before the cache
 * and the origin: a rejected or challenged request never costs an origin request.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { Protection, type Decision, type Reason } from '@outpost/protect'
import type { Dispatcher } from 'undici'
import type { HttpCache, CachedEntry } from '../cache/http-cache.ts'
import { hostOf } from '../cache/http-cache.ts'
import {
  cacheControlOf,
  currentAge,
  first,
  httpDate,
  isStorable,
  updateHeaders,
  usability,
  validatorsOf,
  type HeaderMap,
  type StoredResponse,
} from '../cache/policy.ts'
import {
  endToEnd,
  normaliseHeaders,
  originRequestHeaders,
  visitorResponseHeaders,
  type OutHeaders,
} from './headers.ts'
import type { Answer, Outcome } from './front-door.ts'
import type { RequestHead } from './http1-head.ts'
import { errorPage, type ErrorKindName } from './pages.ts'
import { siteFor, type DataPlaneState, type SiteRuntime } from './sites.ts'

export type VisitorRequest = IncomingMessage | Http2ServerRequest
export type VisitorResponse = ServerResponse | Http2ServerResponse

/** What the transport knows about the visitor's connection. */
export interface ConnInfo {
  readonly clientIp: string
  /** True when the visitor came over TLS. */
  readonly secure: boolean
  readonly sni?: string
  readonly alpn?: string
}

export const CacheStatus = {
  hit: 'HIT',
  miss: 'MISS',
  stale: 'STALE',
  revalidated: 'REVALIDATED',
  expired: 'EXPIRED',
  bypass: 'BYPASS',
  none: 'NONE',
} as const
export type CacheStatus = (typeof CacheStatus)[keyof typeof CacheStatus]

/** One line of the access log, and the input of the request metrics. */
export interface RequestRecord {
  time: number
  site: string
  method: string
  path: string
  status: number
  bytes: number
  durationMs: number
  cache: CacheStatus
  clientIp: string
  httpVersion: string
  /**
   * Set when attack protection answered the request itself (429, 403, challenge):
   * the decision's reason. Such requests never reached the cache or the origin.
   */
  protection?: Reason
}

export interface HandlerOptions {
  /** The current data-plane state (swapped on reload). */
  readonly state: () => DataPlaneState
  readonly cache?: HttpCache | undefined
  readonly maxEntryBytes?: number
  /** Clock for cache decisions (ms since the epoch). */
  readonly now?: () => number
  readonly onRequest?: (r: RequestRecord) => void
  /** Background failures (cache writes, refreshes); they never affect the visitor. */
  readonly onError?: (e: unknown, what: string) => void
  /**
   * The attack-protection engine for sites with `protection` config. Created on
   * first use when not given; zones follow the data-plane state on reload.
   */
  readonly protection?: Protection
}

/** The part of both Node response classes that the handler uses. */
interface Res {
  readonly headersSent: boolean
  readonly writableEnded: boolean
  writeHead(status: number, headers: OutgoingHttpHeaders | readonly string[]): unknown
  write(chunk: Uint8Array): boolean
  end(chunk?: Uint8Array): unknown
  destroy(error?: Error): unknown
  once(event: 'close' | 'finish' | 'drain', fn: () => void): unknown
  off(event: 'close' | 'drain', fn: () => void): unknown
}

/**
 * A pass decided at the front door, for handle() to use instead of deciding the
 * same request again. It holds only for the request it was made for: handle()
 * checks method, target and host against node:http's reading of the request.
 */
export interface Predecided {
  readonly method: string
  readonly url: string
  readonly host: string
  readonly delayMs: number
}

const HANDOFF = { kind: 'handoff' } as const

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE'])
const NO_BODY_STATUS = new Set([204, 304])

export class RequestHandler {
  readonly #o: HandlerOptions
  readonly #now: () => number
  readonly #maxEntry: number
  /** Entries being refreshed in the background (stale-while-revalidate runs once per entry). */
  readonly #refreshing = new Set<string>()
  readonly #background = new Set<Promise<void>>()
  #protection: Protection | undefined
  /** The state whose sites' protection configs are loaded into #protection. */
  #protectedState: DataPlaneState | undefined

  constructor(options: HandlerOptions) {
    this.#o = options
    this.#now = options.now ?? Date.now
    this.#maxEntry = options.maxEntryBytes ?? 8 * 1024 * 1024
    this.#protection = options.protection
  }

  /** The protection engine (metrics, "under attack" switch, bans), once a site uses it. */
  get protection(): Protection | undefined {
    return this.#protection
  }

  /** Waits for background refreshes (tests, shutdown). */
  async settle(): Promise<void> {
    while (this.#background.size > 0) await Promise.all([...this.#background])
  }

  /**
   * Handles one request; never rejects. Protection is decided first and
   * synchronously: a rejected or challenged request is answered from the
   * engine's response with one writeHead + end, and costs no promise, closure,
   * 'close' listener, header copy, cache lookup or origin request (the cheap
   * reject path of docs/protect.md).
   */
  handle(
    req: VisitorRequest,
    response: VisitorResponse,
    conn: ConnInfo,
    pre?: Predecided,
  ): Promise<void> {
    const res = response as Res
    const t0 = performance.now()
    let delayMs = 0
    let routed: Routed | undefined
    try {
      const state = this.#o.state()
      const host = hostOf(req.headers)
      const site = host === undefined ? undefined : siteFor(state, host)
      if (site !== undefined && host !== undefined) {
        routed = { site, host }
        if (
          pre !== undefined &&
          pre.host === host &&
          pre.method === req.method &&
          pre.url === req.url
        ) {
          delayMs = pre.delayMs
        } else if (site.config.protection !== undefined) {
          const url = req.url ?? '/'
          const d = this.#protect(state).evaluate({
            zone: site.name,
            host,
            method: req.method ?? 'GET',
            path: url.startsWith('/') ? url : '/',
            headers: req.headers,
            ip: conn.clientIp,
            secure: conn.secure,
          })
          if (d.kind !== 'pass') {
            this.#decided(req, res, conn, site.name, d, t0)
            return DONE
          }
          delayMs = d.delayMs
        }
      }
    } catch (e) {
      // Routing or the engine threw (a bug): answered like any other failure.
      return this.#handleSlow(req, res, conn, t0, routed, 0, e)
    }
    return this.#handleSlow(req, res, conn, t0, routed, delayMs, undefined)
  }

  /**
   * The front door's question (front-door.ts): decides a plain HTTP/1.1 request
   * before node:http parses it. An answer is recorded here as handle() records
   * it; a pass goes back as a token for handle(), so no request is decided twice.
   */
  predecide(head: RequestHead, conn: ConnInfo): Outcome<Predecided> {
    const t0 = performance.now()
    try {
      const state = this.#o.state()
      const host = hostOf(head.headers)
      const site = host === undefined ? undefined : siteFor(state, host)
      if (site === undefined || host === undefined || site.config.protection === undefined)
        return HANDOFF
      const d = this.#protect(state).evaluate({
        zone: site.name,
        host,
        method: head.method,
        path: head.url,
        headers: head.headers,
        ip: conn.clientIp,
        secure: conn.secure,
      })
      if (d.kind === 'pass') {
        const pre = { method: head.method, url: head.url, host, delayMs: d.delayMs }
        return { kind: 'handoff', pre }
      }
      const answer = answerOf(d)
      this.#record(head.method, head.url, '1.1', conn, site.name, d, t0)
      return { kind: 'answer', answer }
    } catch (e) {
      // A bug in routing or the engine: node:http and handle() answer it.
      this.#o.onError?.(e, 'request')
      return HANDOFF
    }
  }

  /** Answers a protection decision (reject, ban, challenge) and records it at once. */
  #decided(
    req: VisitorRequest,
    res: Res,
    conn: ConnInfo,
    site: string,
    d: Exclude<Decision, { kind: 'pass' }>,
    t0: number,
  ): void {
    const head = req.method === 'HEAD'
    try {
      res.writeHead(d.status, headerList(d))
      res.end(head ? undefined : d.body)
    } catch (e) {
      this.#o.onError?.(e, 'request')
      res.destroy()
    }
    this.#record(req.method ?? 'GET', req.url ?? '/', req.httpVersion, conn, site, d, t0)
  }

  /** The access-log record of a request protection answered. */
  #record(
    method: string,
    path: string,
    httpVersion: string,
    conn: ConnInfo,
    site: string,
    d: Exclude<Decision, { kind: 'pass' }>,
    t0: number,
  ): void {
    // No observeResponse(): origin health counts answers from the origin, and a
    // flood of our own 429s would dilute its error ratio.
    this.#o.onRequest?.({
      time: Date.now(),
      site,
      method,
      path,
      status: d.status,
      bytes: method === 'HEAD' ? 0 : d.body.length,
      durationMs: Math.round((performance.now() - t0) * 1000) / 1000,
      cache: CacheStatus.none,
      clientIp: conn.clientIp,
      httpVersion,
      protection: d.reason,
    })
  }

  /** Everything that is not answered by protection: the cache and the origin. */
  async #handleSlow(
    req: VisitorRequest,
    res: Res,
    conn: ConnInfo,
    t0: number,
    routed: Routed | undefined,
    delayMs: number,
    failed: unknown,
  ): Promise<void> {
    const rec: RequestRecord = {
      time: Date.now(),
      site: routed?.site.name ?? '-',
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      status: 0,
      bytes: 0,
      durationMs: 0,
      cache: CacheStatus.none,
      clientIp: conn.clientIp,
      httpVersion: req.httpVersion,
    }
    let logged = false
    const log = (): void => {
      if (logged) return
      logged = true
      rec.durationMs = Math.round((performance.now() - t0) * 1000) / 1000
      this.#o.onRequest?.(rec)
      // Origin health for the "under attack" auto-trigger.
      if (this.#protection !== undefined && rec.site !== '-' && rec.status > 0)
        this.#protection.observeResponse(rec.site, rec.status)
    }
    res.once('close', log)
    try {
      if (failed === undefined) await this.#route(req, res, conn, rec, routed, delayMs)
      else this.#failed(req, res, rec, failed)
    } catch (e) {
      this.#failed(req, res, rec, e)
    }
  }

  /** A request that failed before or while routing: a 502 page, or a reset once headers are out. */
  #failed(req: VisitorRequest, res: Res, rec: RequestRecord, e: unknown): void {
    this.#o.onError?.(e, 'request')
    if (!res.headersSent) this.#page(req, res, rec, 'badGateway')
    else res.destroy()
  }

  async #route(
    req: VisitorRequest,
    res: Res,
    conn: ConnInfo,
    rec: RequestRecord,
    routed: Routed | undefined,
    delayMs: number,
  ): Promise<void> {
    if (routed === undefined) {
      this.#page(req, res, rec, 'unknownSite')
      return
    }
    const { site, host } = routed
    const method = rec.method
    const path = rec.path.startsWith('/') ? rec.path : '/'
    if (delayMs > 0) await sleep(delayMs) // nginx `delay=`: excess served late, not refused
    const primary = `${conn.secure ? 'https' : 'http'}://${host}${path}`
    const forward = originRequestHeaders(req.headers, {
      clientIp: conn.clientIp,
      proto: conn.secure ? 'https' : 'http',
      host: first(req.headers, ':authority') ?? first(req.headers, 'host') ?? host,
      httpVersion: req.httpVersion,
    })
    const cache = site.config.cache ? this.#o.cache : undefined
    const ctx: Ctx = { req, res, rec, site, path, primary, host, forward }

    if (cache === undefined || (method !== 'GET' && method !== 'HEAD')) {
      rec.cache = cache === undefined ? CacheStatus.none : CacheStatus.bypass
      const up = await this.#fetch(
        ctx,
        method,
        forward,
        method === 'GET' || method === 'HEAD' ? undefined : req,
      )
      if (up === undefined) return
      await this.#relay(ctx, up, method !== 'HEAD', undefined)
      // RFC 9111 §4.4: a non-error response to an unsafe method invalidates the target URI.
      if (cache !== undefined && !SAFE.has(method) && up.statusCode < 400) {
        await cache
          .purge({ url: primary })
          .catch((e: unknown) => this.#o.onError?.(e, 'invalidate'))
      }
      return
    }

    const reqCc = cacheControlOf(req.headers)
    const entry = await cache.lookup(primary, req.headers)
    if (entry !== undefined) {
      const u = usability(entry.stored, req.headers, this.#now())
      if (u.fresh) {
        rec.cache = CacheStatus.hit
        this.#serveStored(ctx, entry, u.age)
        return
      }
      if (reqCc.has('only-if-cached')) {
        this.#page(req, res, rec, 'notCached')
        return
      }
      if (u.staleWhileRevalidate) {
        rec.cache = CacheStatus.stale
        this.#serveStored(ctx, entry, u.age)
        this.#refreshInBackground(ctx, cache, entry)
        return
      }
      // Revalidate (RFC 9111 §4.3).
      const requestTime = this.#now()
      const cond = { ...withoutConditionals(forward), ...validatorsOf(entry.stored) }
      const up = await this.#fetch(ctx, 'GET', cond, undefined, u.staleIfError ? entry : undefined)
      if (up === undefined) return
      if (up.statusCode >= 500 && u.staleIfError) {
        up.body.resume()
        rec.cache = CacheStatus.stale
        this.#serveStored(ctx, entry, u.age)
        return
      }
      if (up.statusCode === 304) {
        up.body.resume()
        const stored = this.#refreshed(entry, up, requestTime)
        await cache
          .refresh(entry, stored)
          .catch((e: unknown) => this.#o.onError?.(e, 'cache-refresh'))
        rec.cache = CacheStatus.revalidated
        this.#serveStored(ctx, { ...entry, stored }, currentAge(stored, this.#now()))
        return
      }
      rec.cache = CacheStatus.expired
      await this.#relay(ctx, up, method === 'GET', { cache, requestTime })
      return
    }
    if (reqCc.has('only-if-cached')) {
      this.#page(req, res, rec, 'notCached')
      return
    }
    rec.cache = CacheStatus.miss
    const requestTime = this.#now()
    // A HEAD miss is forwarded as HEAD and not stored. A GET miss drops the visitor's
    // own validators, so the cache receives a full (storable) response.
    const headers = method === 'GET' ? withoutConditionals(forward) : forward
    const up = await this.#fetch(ctx, method, headers, undefined)
    if (up === undefined) return
    await this.#relay(
      ctx,
      up,
      method === 'GET',
      method === 'GET' ? { cache, requestTime } : undefined,
    )
  }

  /** The protection engine with every protected site of `state` as a zone (synced on reload). */
  #protect(state: DataPlaneState): Protection {
    this.#protection ??= new Protection({
      ...(this.#o.onError !== undefined ? { onError: this.#o.onError } : {}),
    })
    if (this.#protectedState !== state) {
      for (const s of state.sites.values()) {
        if (s.config.protection !== undefined) this.#protection.setZone(s.name, s.config.protection)
        else this.#protection.removeZone(s.name)
      }
      this.#protectedState = state
    }
    return this.#protection
  }

  /** Sends the request to the origin; on failure answers the visitor (stale or an error page). */
  async #fetch(
    ctx: Ctx,
    method: string,
    headers: OutHeaders,
    body: VisitorRequest | undefined,
    staleFallback?: CachedEntry,
  ): Promise<Dispatcher.ResponseData | undefined> {
    const ac = new AbortController()
    const onClose = (): void => {
      if (!ctx.res.writableEnded) ac.abort()
    }
    ctx.res.once('close', onClose)
    try {
      return await ctx.site.pool.request({
        path: ctx.path,
        method: method,
        headers,
        body: body ?? null,
        signal: ac.signal,
      })
    } catch (e) {
      this.#o.onError?.(e, 'origin')
      if (ac.signal.aborted) {
        ctx.res.destroy()
        return undefined
      }
      if (staleFallback !== undefined) {
        ctx.rec.cache = CacheStatus.stale
        this.#serveStored(ctx, staleFallback, currentAge(staleFallback.stored, this.#now()))
        return undefined
      }
      this.#page(ctx.req, ctx.res, ctx.rec, classify(e))
      return undefined
    } finally {
      ctx.res.off('close', onClose)
    }
  }

  /** Streams an origin response to the visitor, storing a copy when allowed. */
  async #relay(
    ctx: Ctx,
    up: Dispatcher.ResponseData,
    sendBody: boolean,
    store: { cache: HttpCache; requestTime: number } | undefined,
  ): Promise<void> {
    const { res, rec } = ctx
    const responseTime = this.#now()
    const headers = normaliseHeaders(up.headers)
    const declared = Number(first(headers, 'content-length') ?? '0')
    let collect =
      store !== undefined &&
      declared <= this.#maxEntry &&
      isStorable('GET', ctx.req.headers, up.statusCode, headers)
    const out = visitorResponseHeaders(headers)
    out['x-cache'] = rec.cache
    rec.status = up.statusCode
    res.writeHead(up.statusCode, out)
    if (!sendBody || NO_BODY_STATUS.has(up.statusCode)) {
      up.body.resume()
      res.end()
      return
    }
    const chunks: Buffer[] = []
    let size = 0
    try {
      for await (const chunk of up.body as AsyncIterable<Buffer>) {
        if (collect) {
          size += chunk.length
          if (size > this.#maxEntry) {
            collect = false
            chunks.length = 0
          } else chunks.push(chunk)
        }
        rec.bytes += chunk.length
        if (!res.write(chunk)) await drained(res)
        if (res.writableEnded || (res as { destroyed?: boolean }).destroyed === true) {
          up.body.destroy()
          return
        }
      }
    } catch (e) {
      // The origin stalled (body idle timeout) or reset mid-body: the visitor's response
      // cannot be completed, so its stream is reset rather than ended cleanly.
      this.#o.onError?.(e, 'origin-body')
      res.destroy()
      return
    }
    res.end()
    if (collect && store !== undefined) {
      const stored: StoredResponse = {
        status: up.statusCode,
        headers: endToEnd(headers),
        requestTime: store.requestTime,
        responseTime,
      }
      await store.cache
        .put(ctx.primary, ctx.host, ctx.req.headers, stored, Buffer.concat(chunks, size))
        .catch((e: unknown) => this.#o.onError?.(e, 'cache-write'))
    }
  }

  #serveStored(ctx: Ctx, entry: CachedEntry, age: number): void {
    const { req, res, rec } = ctx
    const out = visitorResponseHeaders(entry.stored.headers)
    out['age'] = String(age)
    out['x-cache'] = rec.cache
    if (notModified(req.headers, entry.stored.headers)) {
      rec.status = 304
      delete out['content-length']
      res.writeHead(304, out)
      res.end()
      return
    }
    out['content-length'] = String(entry.body.length)
    rec.status = entry.stored.status
    res.writeHead(entry.stored.status, out)
    if (rec.method === 'HEAD' || NO_BODY_STATUS.has(entry.stored.status)) {
      res.end()
      return
    }
    rec.bytes += entry.body.length
    res.end(entry.body)
  }

  #refreshed(entry: CachedEntry, up: Dispatcher.ResponseData, requestTime: number): StoredResponse {
    const fresh = endToEnd(normaliseHeaders(up.headers))
    const merged = updateHeaders(entry.stored.headers, fresh)
    // The old Age described the old response; keep Age only if the 304 carries one.
    if (fresh['age'] === undefined) delete merged['age']
    return { status: entry.stored.status, headers: merged, requestTime, responseTime: this.#now() }
  }

  /** stale-while-revalidate (RFC 5861 §3): one background revalidation per entry at a time. */
  #refreshInBackground(ctx: Ctx, cache: HttpCache, entry: CachedEntry): void {
    if (this.#refreshing.has(entry.key)) return
    this.#refreshing.add(entry.key)
    const run = async (): Promise<void> => {
      const requestTime = this.#now()
      const headers = { ...withoutConditionals(ctx.forward), ...validatorsOf(entry.stored) }
      const up = await ctx.site.pool.request({ path: ctx.path, method: 'GET', headers })
      if (up.statusCode === 304) {
        up.body.resume()
        await cache.refresh(entry, this.#refreshed(entry, up, requestTime))
        return
      }
      const h = normaliseHeaders(up.headers)
      if (up.statusCode >= 500 || !isStorable('GET', ctx.req.headers, up.statusCode, h)) {
        up.body.resume()
        return
      }
      const body = Buffer.from(await up.body.arrayBuffer())
      if (body.length > this.#maxEntry) return
      const stored = {
        status: up.statusCode,
        headers: endToEnd(h),
        requestTime,
        responseTime: this.#now(),
      }
      await cache.put(ctx.primary, ctx.host, ctx.req.headers, stored, body)
    }
    const p = run()
      .catch((e: unknown) => this.#o.onError?.(e, 'background-refresh'))
      .finally(() => {
        this.#refreshing.delete(entry.key)
        this.#background.delete(p)
      })
    this.#background.add(p)
  }

  #page(req: VisitorRequest, res: Res, rec: RequestRecord, kind: ErrorKindName): void {
    const page = errorPage(kind, req.headers, randomBytes(8).toString('hex'))
    rec.status = page.status
    rec.bytes += page.body.length
    res.writeHead(page.status, page.headers)
    res.end(req.method === 'HEAD' ? undefined : page.body)
  }
}

/** A settled promise for requests answered synchronously. */
const DONE: Promise<void> = Promise.resolve()

/** The site a request was routed to by its Host. */
interface Routed {
  readonly site: SiteRuntime
  readonly host: string
}

/**
 * A decision's response headers as the flat [name, value, ...] list writeHead
 * takes, with Content-Length, built once per decision object (the engine reuses
 * its rate-limit decisions, so a flood of 429s shares one list).
 */
const answers = new WeakMap<object, Answer>()

/** A decision as the front door's answer, built once per (cached) decision. */
function answerOf(d: Exclude<Decision, { kind: 'pass' }>): Answer {
  let a = answers.get(d)
  if (a === undefined) {
    a = { status: d.status, headers: headerList(d), body: d.body }
    answers.set(d, a)
  }
  return a
}

const headerLists = new WeakMap<object, readonly string[]>()
function headerList(d: Exclude<Decision, { kind: 'pass' }>): readonly string[] {
  let list = headerLists.get(d)
  if (list === undefined) {
    const out: string[] = []
    for (const [k, v] of Object.entries(d.headers)) out.push(k, v)
    out.push('content-length', String(d.body.length))
    list = out
    headerLists.set(d, list)
  }
  return list
}

interface Ctx {
  readonly req: VisitorRequest
  readonly res: Res
  readonly rec: RequestRecord
  readonly site: SiteRuntime
  readonly path: string
  readonly primary: string
  readonly host: string
  readonly forward: OutHeaders
}

function withoutConditionals(h: OutHeaders): OutHeaders {
  const out = { ...h }
  delete out['if-none-match']
  delete out['if-modified-since']
  delete out['if-match']
  delete out['if-unmodified-since']
  delete out['if-range']
  return out
}

/** Evaluates the visitor's own validators against a stored response (RFC 9110 §13.2.2). */
function notModified(req: HeaderMap, stored: HeaderMap): boolean {
  const inm = first(req, 'if-none-match')
  const etag = first(stored, 'etag')
  if (inm !== undefined) {
    if (etag === undefined) return false
    if (inm.trim() === '*') return true
    const weak = (s: string): string => s.trim().replace(/^W\//, '')
    return inm.split(',').some((t) => weak(t) === weak(etag))
  }
  const ims = httpDate(first(req, 'if-modified-since'))
  const lm = httpDate(first(stored, 'last-modified'))
  return !Number.isNaN(ims) && !Number.isNaN(lm) && lm <= ims
}

function classify(e: unknown): ErrorKindName {
  const code = (e as { code?: unknown }).code
  return code === 'UND_ERR_CONNECT_TIMEOUT' ||
    code === 'UND_ERR_HEADERS_TIMEOUT' ||
    code === 'ETIMEDOUT'
    ? 'gatewayTimeout'
    : 'badGateway'
}

function drained(res: Res): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done)
      res.off('close', done)
      resolve()
    }
    res.once('drain', done)
    res.once('close', done)
  })
}
