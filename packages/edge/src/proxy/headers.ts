/**
 * Header rewriting for a reverse proxy: hop-by-hop fields are removed in both
 * directions (RFC 9110 §7.6.1: Connection, the fields it lists, and
 * Proxy-Connection, Keep-Alive, TE, Transfer-Encoding, Upgrade), and the
 * request gains Forwarded (RFC 7239), X-Forwarded-For/-Proto/-Host and Via
 * (RFC 9110 §7.6.3).
 */
import { isIPv6 } from 'node:net'
import type { HeaderMap } from '../cache/policy.ts'

const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'proxy-connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
])

/** The pseudonym this proxy uses in Via (RFC 9110 §7.6.3 allows a pseudonym instead of a host). */
export const VIA_NAME = 'outpost'

export type OutHeaders = Record<string, string | string[]>

/** Field names the Connection header lists (lower case). */
function connectionOptions(h: HeaderMap): Set<string> {
  const raw = h['connection']
  const out = new Set<string>()
  if (raw === undefined) return out
  for (const line of typeof raw === 'string' ? [raw] : raw) {
    for (const t of line.split(',')) {
      const s = t.trim().toLowerCase()
      if (s !== '') out.add(s)
    }
  }
  return out
}

/**
 * Copies `h` without hop-by-hop fields, pseudo-headers (HTTP/2 `:path` etc.) and
 * the names in `drop`.
 */
export function endToEnd(h: HeaderMap, drop: ReadonlySet<string> = new Set()): OutHeaders {
  const listed = connectionOptions(h)
  const out: OutHeaders = {}
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined || k.startsWith(':')) continue
    const name = k.toLowerCase()
    if (HOP_BY_HOP.has(name) || listed.has(name) || drop.has(name)) continue
    out[name] = typeof v === 'string' ? v : [...v]
  }
  return out
}

function append(out: OutHeaders, name: string, value: string, sep = ', '): void {
  const prev = out[name]
  out[name] =
    prev === undefined ? value : `${typeof prev === 'string' ? prev : prev.join(sep)}${sep}${value}`
}

export interface ForwardFacts {
  /** The visitor's address as seen by the edge. */
  readonly clientIp: string
  /** "https" when the visitor came over TLS. */
  readonly proto: 'http' | 'https'
  /** The Host (or :authority) the visitor asked for. */
  readonly host: string
  /** The visitor's HTTP version, "1.1" or "2.0". */
  readonly httpVersion: string
}

/** Fields the proxy never forwards to an origin, besides hop-by-hop ones. */
const REQUEST_DROP: ReadonlySet<string> = new Set(['expect', 'proxy-authorization', 'host'])

/** Headers for the request to the origin. */
export function originRequestHeaders(h: HeaderMap, f: ForwardFacts): OutHeaders {
  const out = endToEnd(h, REQUEST_DROP)
  out['host'] = f.host
  append(out, 'x-forwarded-for', f.clientIp)
  out['x-forwarded-proto'] = f.proto
  out['x-forwarded-host'] = f.host
  // RFC 7239 §6: IPv6 addresses are quoted and bracketed.
  const node = isIPv6(f.clientIp) ? `"[${f.clientIp}]"` : f.clientIp
  const hostParam = /^[A-Za-z0-9.:-]+$/.test(f.host) ? f.host : `"${f.host.replace(/["\\]/g, '')}"`
  append(out, 'forwarded', `for=${node};host=${hostParam};proto=${f.proto}`)
  append(out, 'via', `${viaVersion(f.httpVersion)} ${VIA_NAME}`)
  return out
}

/** Fields of an origin's response that visitors never see. */
const RESPONSE_DROP: ReadonlySet<string> = new Set(['cache-tag'])

/** Headers for the response to the visitor. */
export function visitorResponseHeaders(h: HeaderMap, originHttpVersion = '1.1'): OutHeaders {
  const out = endToEnd(h, RESPONSE_DROP)
  append(out, 'via', `${viaVersion(originHttpVersion)} ${VIA_NAME}`)
  return out
}

function viaVersion(v: string): string {
  return v === '2.0' || v === '2' ? '2' : v === '1.0' ? '1.0' : '1.1'
}

/** Lower-cases undici's or Node's header names and normalises values to string | string[]. */
export function normaliseHeaders(
  h: Readonly<Record<string, string | string[] | undefined>>,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k.toLowerCase()] = v
  return out
}
