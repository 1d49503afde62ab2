/**
 * Handshake admission: budgets on full TLS handshakes, checked by the TLS
 * server's `admit` hook after certificate selection (so an unknown SNI never
 * gets here) and PSK processing, before the key exchange and the key-server
 * signature (attack-protection.md §1.7). Resumptions need no signature and are
 * always admitted ("resumption first").
 *
 * Budgets, cheapest key first: per client IP, per prefix (IPv4 /24, IPv6 /64),
 * per zone (site) and per node. Each is a GCRA (the virtual-scheduling form of
 * a token bucket, RFC 2697's burst semantics): one number per key, in maps
 * bounded by `maxTrackedKeys` with least-recently-seen eviction. A handshake
 * takes from every budget or from none.
 */
import { isIPv4, isIPv6 } from 'node:net'

export interface RateBudget {
  /** Events per second. */
  readonly rate: number
  /** Events allowed back to back. */
  readonly burst: number
}

export interface AdmissionLimits {
  readonly perIp: RateBudget
  readonly perPrefix: RateBudget
  readonly perZone: RateBudget
  readonly perNode: RateBudget
  readonly maxTrackedKeys: number
}

export type ShedReason = 'ip_budget' | 'prefix_budget' | 'zone_budget' | 'node_budget'

/** Generic cell rate algorithm over a bounded map of theoretical arrival times (ms). */
export class Gcra {
  readonly #interval: number
  readonly #tolerance: number
  readonly #tat = new Map<string, number>()
  readonly #maxKeys: number

  constructor(budget: RateBudget, maxKeys: number) {
    this.#interval = 1000 / budget.rate
    this.#tolerance = this.#interval * (budget.burst - 1)
    this.#maxKeys = maxKeys
  }

  /** True when one more event for `key` conforms at `now` (nothing is taken). */
  conforms(key: string, now: number): boolean {
    const tat = this.#tat.get(key) ?? now
    return tat - now <= this.#tolerance
  }

  /** Records one event for `key` at `now` (call after `conforms`). */
  take(key: string, now: number): void {
    const tat = this.#tat.get(key)
    const next = Math.max(tat ?? now, now) + this.#interval
    if (tat !== undefined) this.#tat.delete(key)
    else if (this.#tat.size >= this.#maxKeys) {
      const oldest = this.#tat.keys().next()
      if (oldest.done !== true) this.#tat.delete(oldest.value)
    }
    this.#tat.set(key, next) // re-insert: Map order is least recently seen first
  }

  get size(): number {
    return this.#tat.size
  }
}

export interface HandshakeAdmissionOptions {
  readonly limits: AdmissionLimits
  /** The zone (site) a server name belongs to; the name itself by default. */
  readonly zoneOf?: (serverName: string) => string | undefined
  /** Called for every refused full handshake. */
  readonly onShed?: (reason: ShedReason) => void
  /** Called for every admitted handshake. */
  readonly onAdmit?: (resumed: boolean) => void
  readonly now?: () => number
}

export class HandshakeAdmission {
  readonly #ip: Gcra
  readonly #prefix: Gcra
  readonly #zone: Gcra
  readonly #node: Gcra
  readonly #o: HandshakeAdmissionOptions
  readonly #now: () => number

  constructor(options: HandshakeAdmissionOptions) {
    const l = options.limits
    this.#ip = new Gcra(l.perIp, l.maxTrackedKeys)
    this.#prefix = new Gcra(l.perPrefix, l.maxTrackedKeys)
    this.#zone = new Gcra(l.perZone, l.maxTrackedKeys)
    this.#node = new Gcra(l.perNode, 1)
    this.#o = options
    this.#now = options.now ?? (() => performance.now())
  }

  /** The TLS server's `admit` hook: undefined admits, a reason refuses. */
  readonly admit = (info: {
    readonly serverName: string | undefined
    readonly resumed: boolean
    readonly peer: string | undefined
  }): ShedReason | undefined => {
    if (info.resumed) {
      this.#o.onAdmit?.(true)
      return undefined
    }
    const now = this.#now()
    const ip = normaliseIp(info.peer ?? '')
    const prefix = prefixOf(ip)
    const name = info.serverName ?? ''
    const zone = this.#o.zoneOf?.(name) ?? name
    const reason = !this.#ip.conforms(ip, now)
      ? 'ip_budget'
      : !this.#prefix.conforms(prefix, now)
        ? 'prefix_budget'
        : !this.#zone.conforms(zone, now)
          ? 'zone_budget'
          : !this.#node.conforms('', now)
            ? 'node_budget'
            : undefined
    if (reason !== undefined) {
      this.#o.onShed?.(reason)
      return reason
    }
    this.#ip.take(ip, now)
    this.#prefix.take(prefix, now)
    this.#zone.take(zone, now)
    this.#node.take('', now)
    this.#o.onAdmit?.(false)
    return undefined
  }

  /** Keys currently remembered (per IP, per prefix), for tests and metrics. */
  get tracked(): { ips: number; prefixes: number } {
    return { ips: this.#ip.size, prefixes: this.#prefix.size }
  }
}

/** IPv4-mapped IPv6 as IPv4; anything else unchanged. */
export function normaliseIp(ip: string): string {
  return ip.startsWith('::ffff:') && isIPv4(ip.slice(7)) ? ip.slice(7) : ip
}

/** "a.b.c" for IPv4 (/24), the first four 16-bit groups for IPv6 (/64). */
export function prefixOf(ip: string): string {
  if (isIPv4(ip)) return ip.slice(0, ip.lastIndexOf('.'))
  if (!isIPv6(ip)) return ip
  const [head = '', tail = ''] = ip.split('::') as [string?, string?]
  const h = head === '' ? [] : head.split(':')
  const t = ip.includes('::') ? (tail === '' ? [] : tail.split(':')) : []
  const groups = [...h, ...new Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t]
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`
}
