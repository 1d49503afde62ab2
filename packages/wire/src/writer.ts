/**
 * A growable big-endian writer with length-prefixed scopes that back-patch their
 * length when the callback returns (rustls `LengthPrefixedBuffer`, Go
 * `cryptobyte.Builder.AddUint16LengthPrefixed`).
 */
import { EncodeError } from './errors.ts'

export class Writer {
  #buf: Uint8Array
  #len = 0

  constructor(initialCapacity = 256) {
    this.#buf = new Uint8Array(initialCapacity)
  }

  get length(): number {
    return this.#len
  }

  /** Empties the writer for reuse; its buffer (and capacity) is kept. */
  reset(): this {
    this.#len = 0
    return this
  }

  #reserve(n: number): void {
    const need = this.#len + n
    if (need <= this.#buf.length) return
    let cap = this.#buf.length * 2
    while (cap < need) cap *= 2
    const next = new Uint8Array(cap)
    next.set(this.#buf.subarray(0, this.#len))
    this.#buf = next
  }

  u8(v: number): this {
    checkRange(v, 0xff, 'uint8')
    this.#reserve(1)
    this.#buf[this.#len++] = v
    return this
  }

  u16(v: number): this {
    checkRange(v, 0xffff, 'uint16')
    this.#reserve(2)
    this.#buf[this.#len++] = v >>> 8
    this.#buf[this.#len++] = v & 0xff
    return this
  }

  u24(v: number): this {
    checkRange(v, 0xffffff, 'uint24')
    this.#reserve(3)
    this.#buf[this.#len++] = v >>> 16
    this.#buf[this.#len++] = (v >>> 8) & 0xff
    this.#buf[this.#len++] = v & 0xff
    return this
  }

  u32(v: number): this {
    checkRange(v, 0xffffffff, 'uint32')
    this.#reserve(4)
    this.#buf[this.#len++] = v >>> 24
    this.#buf[this.#len++] = (v >>> 16) & 0xff
    this.#buf[this.#len++] = (v >>> 8) & 0xff
    this.#buf[this.#len++] = v & 0xff
    return this
  }

  u64(v: bigint): this {
    if (v < 0n || v > 0xffffffffffffffffn) throw new EncodeError(`Cannot encode uint64: ${v}`)
    this.u32(Number(v >> 32n))
    return this.u32(Number(v & 0xffffffffn))
  }

  bytes(b: Uint8Array): this {
    this.#reserve(b.length)
    this.#buf.set(b, this.#len)
    this.#len += b.length
    return this
  }

  zeros(n: number): this {
    this.#reserve(n)
    this.#buf.fill(0, this.#len, this.#len + n)
    this.#len += n
    return this
  }

  vec8(b: Uint8Array): this {
    return this.u8(checkLen(b.length, 0xff)).bytes(b)
  }

  vec16(b: Uint8Array): this {
    return this.u16(checkLen(b.length, 0xffff)).bytes(b)
  }

  vec24(b: Uint8Array): this {
    return this.u24(checkLen(b.length, 0xffffff)).bytes(b)
  }

  /** Writes a uint8 length, then whatever `body` writes, then patches the length. */
  prefixed8(body: (w: this) => void): this {
    return this.#prefixed(1, 0xff, body)
  }

  prefixed16(body: (w: this) => void): this {
    return this.#prefixed(2, 0xffff, body)
  }

  prefixed24(body: (w: this) => void): this {
    return this.#prefixed(3, 0xffffff, body)
  }

  #prefixed(width: number, max: number, body: (w: this) => void): this {
    this.#reserve(width)
    const at = this.#len
    this.#len += width
    body(this)
    const n = this.#len - at - width
    if (n > max) throw new EncodeError(`Cannot encode vector: ${n} bytes exceed ${max}`)
    for (let i = width - 1, v = n; i >= 0; i--, v >>>= 8) this.#buf[at + i] = v & 0xff
    return this
  }

  /** A copy of the bytes written so far. */
  finish(): Uint8Array {
    return this.#buf.slice(0, this.#len)
  }

  /** A view of the bytes written so far (valid until the next write). */
  view(): Uint8Array {
    return this.#buf.subarray(0, this.#len)
  }
}

function checkRange(v: number, max: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > max) {
    throw new EncodeError(`Cannot encode ${what}: value ${v} is out of range`)
  }
}

function checkLen(n: number, max: number): number {
  if (n > max) throw new EncodeError(`Cannot encode vector: ${n} bytes exceed ${max}`)
  return n
}
