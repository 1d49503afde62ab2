/**
 * IP addresses as bytes, CIDR sets and prefix keys (IPv4 /24, IPv6 /64 by default).
 * IPv4-mapped IPv6 (`::ffff:192.0.2.1`, what Node reports on dual-stack sockets)
 * is treated as IPv4.
 */
import { isIPv4, isIPv6 } from 'node:net'

/** 4 or 16 bytes, or undefined when `ip` is not an address. */
export function ipBytes(ip: string): Uint8Array | undefined {
  if (ip.startsWith('::ffff:') && isIPv4(ip.slice(7))) ip = ip.slice(7)
  if (isIPv4(ip)) {
    const p = ip.split('.')
    return Uint8Array.of(Number(p[0]), Number(p[1]), Number(p[2]), Number(p[3]))
  }
  if (!isIPv6(ip)) return undefined
  const zone = ip.indexOf('%')
  if (zone >= 0) ip = ip.slice(0, zone)
  let tail: number[] = []
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(ip)
  if (v4?.[1] !== undefined) {
    tail = v4[1].split('.').map(Number)
    ip = ip.slice(0, -v4[1].length) + '0:0'
  }
  const [head = '', rest] = ip.split('::')
  const h = head === '' ? [] : head.split(':')
  const r = rest === undefined || rest === '' ? [] : rest.split(':')
  const groups =
    rest === undefined ? h : [...h, ...Array<string>(8 - h.length - r.length).fill('0'), ...r]
  const out = new Uint8Array(16)
  groups.forEach((g, i) => {
    const v = parseInt(g, 16)
    out[i * 2] = v >> 8
    out[i * 2 + 1] = v & 0xff
  })
  if (tail.length === 4) out.set(tail, 12)
  return out
}

/** The client's prefix as a string key: `a.b.c.0/24` or hex `/64`. */
export function prefixKey(ip: string, v4Bits: number, v6Bits: number): string {
  const b = ipBytes(ip)
  if (b === undefined) return ip
  const bits = b.length === 4 ? v4Bits : v6Bits
  const m = mask(b, bits)
  return b.length === 4 ? `${m.join('.')}/${bits}` : `${Buffer.from(m).toString('hex')}/${bits}`
}

function mask(b: Uint8Array, bits: number): Uint8Array {
  const out = new Uint8Array(b.length)
  for (let i = 0; i < b.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8))
    out[i] = (b[i] ?? 0) & ((0xff00 >> keep) & 0xff)
  }
  return out
}

interface Net {
  readonly bytes: Uint8Array
  readonly bits: number
}

/** A set of CIDRs; `has()` is linear in the set size (allow-lists are small). */
export class CidrSet {
  readonly #v4: Net[] = []
  readonly #v6: Net[] = []

  constructor(cidrs: readonly string[] = []) {
    for (const c of cidrs) this.add(c)
  }

  add(cidr: string): void {
    const [addr = '', len] = cidr.split('/')
    const b = ipBytes(addr)
    if (b === undefined) throw new Error(`not an IP address or CIDR: ${JSON.stringify(cidr)}`)
    const max = b.length * 8
    const bits = len === undefined ? max : Number(len)
    if (!Number.isInteger(bits) || bits < 0 || bits > max)
      throw new Error(`bad prefix length in ${JSON.stringify(cidr)}`)
    ;(b.length === 4 ? this.#v4 : this.#v6).push({ bytes: mask(b, bits), bits })
  }

  get size(): number {
    return this.#v4.length + this.#v6.length
  }

  has(ip: string): boolean {
    if (this.size === 0) return false
    const b = ipBytes(ip)
    if (b === undefined) return false
    for (const n of b.length === 4 ? this.#v4 : this.#v6) {
      if (covers(n, b)) return true
    }
    return false
  }
}

function covers(n: Net, b: Uint8Array): boolean {
  let bits = n.bits
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const m = bits >= 8 ? 0xff : (0xff00 >> bits) & 0xff
    if (((b[i] ?? 0) & m) !== n.bytes[i]) return false
  }
  return true
}
