/**
 * A bounds-checked big-endian reader over a Uint8Array (rustls `codec::Reader`,
 * Go `cryptobyte.String`). Every read either succeeds or throws DecodeError; no
 * caller indexes the underlying array directly.
 *
 * Sub-readers (`sub`, `vec8`, `vec16`, `vec24`) cover exactly one length-prefixed
 * block; `end()` asserts the block was consumed, which is how "trailing data"
 * is rejected everywhere.
 */
import { DecodeError } from './errors.ts'

export class Reader {
  readonly #buf: Uint8Array
  #pos = 0
  readonly #what: string

  /** @param what names the structure for error messages, e.g. "ClientHello". */
  constructor(buf: Uint8Array, what = 'input') {
    this.#buf = buf
    this.#what = what
  }

  /** Bytes not yet read. */
  get left(): number {
    return this.#buf.length - this.#pos
  }

  /** Offset of the next byte to read. */
  get offset(): number {
    return this.#pos
  }

  hasMore(): boolean {
    return this.#pos < this.#buf.length
  }

  #need(n: number, field: string): void {
    if (n > this.left) {
      throw new DecodeError(
        `Cannot decode ${this.#what}: ${field} needs ${n} bytes, ${this.left} left`,
      )
    }
  }

  u8(field = 'uint8'): number {
    this.#need(1, field)
    return this.#buf[this.#pos++] as number
  }

  u16(field = 'uint16'): number {
    this.#need(2, field)
    const b = this.#buf
    const p = this.#pos
    this.#pos += 2
    return ((b[p] as number) << 8) | (b[p + 1] as number)
  }

  u24(field = 'uint24'): number {
    this.#need(3, field)
    const b = this.#buf
    const p = this.#pos
    this.#pos += 3
    return ((b[p] as number) << 16) | ((b[p + 1] as number) << 8) | (b[p + 2] as number)
  }

  u32(field = 'uint32'): number {
    this.#need(4, field)
    const b = this.#buf
    const p = this.#pos
    this.#pos += 4
    return (
      ((b[p] as number) * 0x1000000 +
        (((b[p + 1] as number) << 16) | ((b[p + 2] as number) << 8) | (b[p + 3] as number))) >>>
      0
    )
  }

  u64(field = 'uint64'): bigint {
    const hi = this.u32(field)
    const lo = this.u32(field)
    return (BigInt(hi) << 32n) | BigInt(lo)
  }

  /** A view (not a copy) of the next n bytes. */
  bytes(n: number, field = 'bytes'): Uint8Array {
    this.#need(n, field)
    const out = this.#buf.subarray(this.#pos, this.#pos + n)
    this.#pos += n
    return out
  }

  /** A reader over the next n bytes. */
  sub(n: number, what = this.#what): Reader {
    return new Reader(this.bytes(n, what), what)
  }

  /** Everything not yet read. */
  rest(): Uint8Array {
    return this.bytes(this.left)
  }

  /** opaque<0..2^8-1> as bytes. */
  vec8(field = 'vector'): Uint8Array {
    return this.bytes(this.u8(field), field)
  }

  vec16(field = 'vector'): Uint8Array {
    return this.bytes(this.u16(field), field)
  }

  vec24(field = 'vector'): Uint8Array {
    return this.bytes(this.u24(field), field)
  }

  /** A sub-reader over a uint8-length-prefixed block. */
  sub8(what = this.#what): Reader {
    return this.sub(this.u8(what), what)
  }

  sub16(what = this.#what): Reader {
    return this.sub(this.u16(what), what)
  }

  sub24(what = this.#what): Reader {
    return this.sub(this.u24(what), what)
  }

  /** Asserts that the whole input was consumed. */
  end(): void {
    if (this.left !== 0) {
      throw new DecodeError(`Cannot decode ${this.#what}: ${this.left} trailing bytes`)
    }
  }
}
