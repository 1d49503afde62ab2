/**
 * HTTP caching rules for a shared cache (RFC 9111), as pure functions over
 * header maps and an injected clock, so every rule is testable without a
 * network or real time.
 *
 * Times are milliseconds since the epoch; ages and lifetimes are seconds, as
 * in the RFC.
 */
import { deltaSeconds, parseCacheControl, type Directives } from './cache-control.ts'

/** Lower-case field name → value(s), the shape of Node's IncomingHttpHeaders. */
export type HeaderMap = Readonly<Record<string, string | readonly string[] | undefined>>

/** What the cache keeps about a stored response besides its body. */
export interface StoredResponse {
  readonly status: number
  readonly headers: HeaderMap
  /** When the request that produced this response was sent (RFC 9111 §4.2.3 request_time). */
  readonly requestTime: number
  /** When the response was received (response_time). */
  readonly responseTime: number
}

/**
 * Status codes that are heuristically cacheable (RFC 9110 §15.1). 206 is left
 * out: this cache does not combine partial content.
 */
const HEURISTIC_STATUS: ReadonlySet<number> = new Set([
  200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501,
])

/** Status codes this cache understands well enough to store (RFC 9111 §3 "final and understood"). */
const UNDERSTOOD_STATUS: ReadonlySet<number> = new Set([
  ...HEURISTIC_STATUS,
  302,
  303,
  307,
  400,
  403,
  500,
  502,
  503,
  504,
])

export function first(h: HeaderMap, name: string): string | undefined {
  const v = h[name]
  if (v === undefined) return undefined
  return typeof v === 'string' ? v : v[0]
}

export function cacheControlOf(h: HeaderMap): Directives {
  return parseCacheControl(h['cache-control'])
}

/** Parses an HTTP-date (RFC 9110 §5.6.7); NaN when invalid. */
export function httpDate(v: string | undefined): number {
  if (v === undefined) return NaN
  // Date.parse accepts IMF-fixdate, RFC 850 and asctime forms; reject bare numbers ("0").
  if (/^\s*-?\d+\s*$/.test(v)) return NaN
  return Date.parse(v)
}

/**
 * May a shared cache store this response (RFC 9111 §3)? `reqHeaders` are the
 * request's. Responses carrying Set-Cookie are not stored unless the origin
 * marked them `public` (a shared cache must not hand one visitor's cookie to
 * another; RFC 9111 §7.3 leaves this to the cache).
 */
export function isStorable(
  method: string,
  reqHeaders: HeaderMap,
  status: number,
  resHeaders: HeaderMap,
): boolean {
  if (method !== 'GET') return false // HEAD responses carry no body to store
  if (!UNDERSTOOD_STATUS.has(status)) return false
  const req = cacheControlOf(reqHeaders)
  const res = cacheControlOf(resHeaders)
  // RFC 9111 §5.2.1.5 / §5.2.2.5: no-store in the request or the response.
  if (req.has('no-store') || res.has('no-store')) return false
  // §5.2.2.7: a shared cache must not store `private` responses (qualified or not: we do not
  // strip fields, so we treat the qualified form like the unqualified one).
  if (res.has('private')) return false
  // Vary: * can never be matched (RFC 9111 §4.1).
  const vary = first(resHeaders, 'vary')
  if (vary !== undefined && vary.split(',').some((s) => s.trim() === '*')) return false
  // §3.5: Authorization requires must-revalidate, public or s-maxage.
  if (
    reqHeaders['authorization'] !== undefined &&
    !res.has('must-revalidate') &&
    !res.has('public') &&
    !res.has('s-maxage')
  )
    return false
  if (resHeaders['set-cookie'] !== undefined && !res.has('public')) return false
  // §3: at least one of public, max-age, s-maxage, Expires, or a heuristically cacheable status.
  if (res.has('public') || res.has('s-maxage') || res.has('max-age')) return true
  if (resHeaders['expires'] !== undefined) return true
  if (HEURISTIC_STATUS.has(status)) {
    // Only worth storing with a way to compute freshness or to revalidate.
    return resHeaders['last-modified'] !== undefined || resHeaders['etag'] !== undefined
  }
  return false
}

/**
 * Freshness lifetime in seconds (RFC 9111 §4.2.1): s-maxage, then max-age, then
 * Expires − Date, then the heuristic: 10% of the time since Last-Modified
 * (§4.2.2), only for heuristically cacheable status codes.
 */
export function freshnessLifetime(stored: StoredResponse): number {
  const cc = cacheControlOf(stored.headers)
  const s = deltaSeconds(cc, 's-maxage')
  if (s !== undefined) return s
  const m = deltaSeconds(cc, 'max-age')
  if (m !== undefined) return m
  const date = dateValue(stored)
  const expiresRaw = first(stored.headers, 'expires')
  if (expiresRaw !== undefined) {
    const expires = httpDate(expiresRaw)
    // An invalid Expires ("0") means already expired (RFC 9111 §5.3).
    if (Number.isNaN(expires)) return 0
    return Math.max(0, Math.floor((expires - date) / 1000))
  }
  if (cc.has('no-cache')) return 0
  const lm = httpDate(first(stored.headers, 'last-modified'))
  if (HEURISTIC_STATUS.has(stored.status) && !Number.isNaN(lm) && lm < date) {
    return Math.floor((date - lm) / 1000 / 10)
  }
  return 0
}

/** date_value: the Date header, or the response time when absent or invalid (RFC 9110 §6.6.1). */
function dateValue(stored: StoredResponse): number {
  const d = httpDate(first(stored.headers, 'date'))
  return Number.isNaN(d) ? stored.responseTime : d
}

/** current_age in seconds (RFC 9111 §4.2.3). */
export function currentAge(stored: StoredResponse, now: number): number {
  const ageRaw = first(stored.headers, 'age')
  const ageValue = ageRaw !== undefined && /^\d+$/.test(ageRaw.trim()) ? Number(ageRaw) : 0
  const apparentAge = Math.max(0, stored.responseTime - dateValue(stored)) / 1000
  const responseDelay = (stored.responseTime - stored.requestTime) / 1000
  const correctedAgeValue = ageValue + responseDelay
  const correctedInitialAge = Math.max(apparentAge, correctedAgeValue)
  const residentTime = (now - stored.responseTime) / 1000
  return Math.max(0, Math.floor(correctedInitialAge + residentTime))
}

/** What the cache may do with a stored response for a given request, now. */
export interface Usability {
  /** current_age, for the Age header. */
  readonly age: number
  readonly lifetime: number
  /** Fresh and acceptable to the request: serve without contacting the origin. */
  readonly fresh: boolean
  /** Must be revalidated before use (stale, or no-cache in either message). */
  readonly mustRevalidate: boolean
  /** May be served stale while a background revalidation runs (RFC 5861 §3). */
  readonly staleWhileRevalidate: boolean
  /** May be served stale if revalidation fails with a 5xx or no answer (RFC 5861 §4). */
  readonly staleIfError: boolean
}

/**
 * Decides how a stored response may be used for a request (RFC 9111 §4 and
 * §5.2.1 request directives, RFC 5861 extensions). must-revalidate,
 * proxy-revalidate and s-maxage forbid serving stale responses at all
 * (§5.2.2.2, §5.2.2.8, §5.2.2.10).
 */
export function usability(stored: StoredResponse, reqHeaders: HeaderMap, now: number): Usability {
  const res = cacheControlOf(stored.headers)
  const req = cacheControlOf(reqHeaders)
  const age = currentAge(stored, now)
  const lifetime = freshnessLifetime(stored)
  const staleness = age - lifetime
  let fresh = age < lifetime
  // Request directives (§5.2.1).
  const reqMaxAge = deltaSeconds(req, 'max-age')
  if (reqMaxAge !== undefined && age > reqMaxAge) fresh = false
  const minFresh = deltaSeconds(req, 'min-fresh')
  if (minFresh !== undefined && lifetime - age < minFresh) fresh = false
  const reqNoCache = req.has('no-cache') || first(reqHeaders, 'pragma')?.includes('no-cache')
  const resNoCache = res.has('no-cache')
  if (reqNoCache === true || resNoCache) fresh = false
  // Stale use forbidden by the origin.
  const noStale = res.has('must-revalidate') || res.has('proxy-revalidate') || res.has('s-maxage')
  const swr = deltaSeconds(res, 'stale-while-revalidate')
  const sieRes = deltaSeconds(res, 'stale-if-error')
  const sieReq = deltaSeconds(req, 'stale-if-error')
  const sie = sieReq ?? sieRes
  const stale = !fresh
  const canStale = stale && !noStale && !resNoCache && reqNoCache !== true
  // max-stale in the request allows stale use as well (§5.2.1.2).
  const maxStale = req.get('max-stale')
  const maxStaleOk =
    maxStale !== undefined &&
    (maxStale === true || staleness <= (deltaSeconds(req, 'max-stale') ?? -1))
  return {
    age,
    lifetime,
    fresh: fresh || (canStale && maxStaleOk && reqMaxAge === undefined),
    mustRevalidate: !fresh,
    staleWhileRevalidate:
      canStale && reqMaxAge === undefined && swr !== undefined && staleness < swr,
    staleIfError: stale && !noStale && sie !== undefined && staleness < sie,
  }
}

/**
 * Headers for a conditional request that revalidates `stored` (RFC 9111 §4.3.1):
 * If-None-Match with the ETag, and If-Modified-Since with Last-Modified.
 */
export function validatorsOf(stored: StoredResponse): Record<string, string> {
  const out: Record<string, string> = {}
  const etag = first(stored.headers, 'etag')
  if (etag !== undefined) out['if-none-match'] = etag
  const lm = first(stored.headers, 'last-modified')
  if (lm !== undefined) out['if-modified-since'] = lm
  return out
}

/** Fields a 304 must not replace (RFC 9111 §3.2: the stored framing stays). */
const KEEP_ON_UPDATE: ReadonlySet<string> = new Set([
  'content-length',
  'content-encoding',
  'content-range',
  'transfer-encoding',
])

/** Applies a 304's header fields to the stored ones (RFC 9111 §4.3.4, §3.2). */
export function updateHeaders(
  stored: HeaderMap,
  fresh: HeaderMap,
): Record<string, string | readonly string[]> {
  const out: Record<string, string | readonly string[]> = {}
  for (const [k, v] of Object.entries(stored)) if (v !== undefined) out[k] = v
  for (const [k, v] of Object.entries(fresh)) {
    if (v === undefined || KEEP_ON_UPDATE.has(k)) continue
    out[k] = v
  }
  return out
}

/** The Vary field names of a response, lower case (empty when none). */
export function varyNames(h: HeaderMap): readonly string[] {
  const raw = h['vary']
  if (raw === undefined) return []
  const text = typeof raw === 'string' ? raw : raw.join(',')
  return text
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '')
    .sort()
}

/**
 * The request's values for the Vary fields, normalised (RFC 9111 §4.1: combined
 * field lines, whitespace around commas removed), absent fields as ''.
 */
export function varyValues(
  names: readonly string[],
  reqHeaders: HeaderMap,
): Record<string, string> {
  const out: Record<string, string> = {}
  for (const n of names) {
    const v = reqHeaders[n]
    const text = v === undefined ? '' : typeof v === 'string' ? v : v.join(',')
    out[n] = text
      .split(',')
      .map((s) => s.trim())
      .join(',')
  }
  return out
}
