/**
 * JSON access logs, one line per request. Client addresses are personal data
 * that a seized disk would reveal, so by default they are truncated (IPv4 to
 * /24, IPv6 to /48); `hash` replaces them with a keyed hash whose key lives
 * only in memory (stable within one process, unlinkable across restarts), and
 * `full` keeps them.
 *
 * Requests that attack protection answered itself (429, 403, challenge: records
 * with `protection` set) are sampled, like nginx's `limit_req_log_level` keeps
 * a flood out of the access log: the first `rejectsPerSecond` of each second
 * are written in full, the rest are only counted, and the next written line
 * carries that count as `suppressed`. The Prometheus counters count every one.
 */
import { createHmac, randomBytes } from 'node:crypto'
import { createWriteStream, type WriteStream } from 'node:fs'
import { isIPv4, isIPv6 } from 'node:net'
import type { RequestRecord } from './proxy/handler.ts'

export type ClientIpMode = 'truncate' | 'hash' | 'full'

/** IPv4 → a.b.c.0, IPv6 → first 48 bits + "::" (IPv4-mapped IPv6 as IPv4). */
export function truncateIp(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)
  const v4 = mapped?.[1] ?? ip
  if (isIPv4(v4)) return v4.replace(/\.\d+$/, '.0')
  if (!isIPv6(ip)) return ''
  const groups = expandIPv6(ip)
  return `${groups
    .slice(0, 3)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::`
}

function expandIPv6(ip: string): string[] {
  const [head = '', tail = ''] = ip.split('::')
  const h = head === '' ? [] : head.split(':')
  const t = ip.includes('::') ? (tail === '' ? [] : tail.split(':')) : []
  const fill = ip.includes('::') ? 8 - h.length - t.length : 0
  return [...h, ...Array<string>(Math.max(0, fill)).fill('0'), ...t].map((g) => g.padStart(4, '0'))
}

export class AccessLog {
  readonly #out: NodeJS.WritableStream
  readonly #own: WriteStream | undefined
  readonly #mode: ClientIpMode
  readonly #hashKey: Buffer
  readonly #rejectsPerSecond: number
  #rejectSecond = 0
  #rejectsThisSecond = 0
  #suppressed = 0
  #suppressedTotal = 0

  constructor(
    options: (
      | { path: string; clientIp: ClientIpMode }
      | { stream: NodeJS.WritableStream; clientIp: ClientIpMode }
    ) & {
      /** Protection-answered requests written per second (default 10; 0: none, Infinity: all). */
      rejectsPerSecond?: number
    },
  ) {
    if ('stream' in options) {
      this.#out = options.stream
      this.#own = undefined
    } else if (options.path === '-') {
      this.#out = process.stdout
      this.#own = undefined
    } else {
      this.#own = createWriteStream(options.path, { flags: 'a', mode: 0o640 })
      this.#out = this.#own
    }
    this.#mode = options.clientIp
    this.#hashKey = randomBytes(32)
    this.#rejectsPerSecond = options.rejectsPerSecond ?? 10
  }

  /** Protection-answered requests left out of the log so far (sampling). */
  get suppressedRejects(): number {
    return this.#suppressedTotal
  }

  ip(ip: string): string {
    switch (this.#mode) {
      case 'full':
        return ip
      case 'truncate':
        return truncateIp(ip)
      case 'hash':
        return createHmac('sha256', this.#hashKey).update(ip).digest('hex').slice(0, 16)
    }
  }

  write(r: RequestRecord): void {
    let suppressed = 0
    if (r.protection !== undefined) {
      const sec = Math.floor(r.time / 1000)
      if (sec !== this.#rejectSecond) {
        this.#rejectSecond = sec
        this.#rejectsThisSecond = 0
      }
      if (this.#rejectsThisSecond >= this.#rejectsPerSecond) {
        this.#suppressed++
        this.#suppressedTotal++
        return
      }
      this.#rejectsThisSecond++
      suppressed = this.#suppressed
      this.#suppressed = 0
    }
    this.#out.write(
      JSON.stringify({
        time: new Date(r.time).toISOString(),
        site: r.site,
        method: r.method,
        path: r.path,
        status: r.status,
        bytes: r.bytes,
        durationMs: r.durationMs,
        cache: r.cache,
        clientIp: this.ip(r.clientIp),
        http: r.httpVersion,
        ...(r.protection !== undefined ? { protection: r.protection } : {}),
        ...(suppressed > 0 ? { suppressed } : {}),
      }) + '\n',
    )
  }

  async close(): Promise<void> {
    this.#hashKey.fill(0)
    const own = this.#own
    if (own !== undefined) await new Promise<void>((resolve) => own.end(resolve))
  }
}
