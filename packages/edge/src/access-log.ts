/**
 * JSON access logs, one line per request. Client addresses are personal data
 * that a seized disk would reveal, so by default they are truncated (IPv4 to
 * /24, IPv6 to /48); `hash` replaces them with a keyed hash whose key lives
 * only in memory (stable within one process, unlinkable across restarts), and
 * `full` keeps them.
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

  constructor(
    options:
      | { path: string; clientIp: ClientIpMode }
      | { stream: NodeJS.WritableStream; clientIp: ClientIpMode },
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
      }) + '\n',
    )
  }

  async close(): Promise<void> {
    this.#hashKey.fill(0)
    const own = this.#own
    if (own !== undefined) await new Promise<void>((resolve) => own.end(resolve))
  }
}
