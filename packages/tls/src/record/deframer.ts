/**
 * Splits the incoming byte stream into TLS records (RFC 8446 §5.1). Chunks are
 * kept as they arrive; a record that lies inside one chunk is returned as a view
 * (no copy), one that spans chunks is copied once. A length beyond the largest
 * legal TLSCiphertext is record_overflow before any of the body is buffered.
 */
import { AlertDescription } from '../constants.ts'
import { PeerMisbehavedError } from '../errors.ts'

/** RFC 8446 §5.1: TLSPlaintext.length MUST NOT exceed 2^14. */
export const MAX_PLAINTEXT_BYTES = 16384
/** RFC 8446 §5.2: TLSCiphertext.length MUST NOT exceed 2^14 + 256. */
export const MAX_CIPHERTEXT_BYTES = 16384 + 256
export const RECORD_HEADER_BYTES = 5

export interface TlsRecord {
  readonly type: number
  /** The 5-byte header (the AEAD's additional data for protected records). */
  readonly header: Uint8Array
  readonly fragment: Uint8Array
  /** True when the record was copied out of several chunks, so nobody else holds its bytes. */
  readonly copied: boolean
}

export class RecordDeframer {
  #chunks: Uint8Array[] = []
  #head = 0
  #size = 0

  /** Bytes received but not yet returned as records. */
  get buffered(): number {
    return this.#size
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return
    this.#chunks.push(chunk)
    this.#size += chunk.length
  }

  #byteAt(i: number): number {
    let off = this.#head + i
    for (const c of this.#chunks) {
      if (off < c.length) return c[off] as number
      off -= c.length
    }
    return 0
  }

  /** The next whole record, or undefined if more bytes are needed. */
  next(): TlsRecord | undefined {
    if (this.#size < RECORD_HEADER_BYTES) return undefined
    // RFC 8446 §5: an unknown content type is unexpected_message; decide on the
    // header so a non-TLS client (e.g. plaintext HTTP) is answered at once.
    const type = this.#byteAt(0)
    if (type < 20 || type > 23) {
      throw new PeerMisbehavedError(
        AlertDescription.UnexpectedMessage,
        `Cannot read record: unknown content type ${type}`,
      )
    }
    const length = (this.#byteAt(3) << 8) | this.#byteAt(4)
    if (length > MAX_CIPHERTEXT_BYTES) {
      throw new PeerMisbehavedError(
        AlertDescription.RecordOverflow,
        `Cannot read record: length ${length} exceeds ${MAX_CIPHERTEXT_BYTES}`,
      )
    }
    const total = RECORD_HEADER_BYTES + length
    if (this.#size < total) return undefined
    const first = this.#chunks[0] as Uint8Array
    const copied = first.length - this.#head < total
    const bytes = this.#take(total)
    return {
      type: bytes[0] as number,
      header: bytes.subarray(0, RECORD_HEADER_BYTES),
      fragment: bytes.subarray(RECORD_HEADER_BYTES),
      copied,
    }
  }

  #take(n: number): Uint8Array {
    const first = this.#chunks[0] as Uint8Array
    this.#size -= n
    if (first.length - this.#head >= n) {
      const out = first.subarray(this.#head, this.#head + n)
      this.#head += n
      if (this.#head === first.length) {
        this.#chunks.shift()
        this.#head = 0
      }
      return out
    }
    const out = new Uint8Array(n)
    let at = 0
    while (at < n) {
      const c = this.#chunks[0] as Uint8Array
      const avail = c.length - this.#head
      const k = Math.min(avail, n - at)
      out.set(c.subarray(this.#head, this.#head + k), at)
      at += k
      this.#head += k
      if (this.#head === c.length) {
        this.#chunks.shift()
        this.#head = 0
      }
    }
    return out
  }

  /** Drops everything buffered (after a fatal error). */
  clear(): void {
    this.#chunks = []
    this.#head = 0
    this.#size = 0
  }
}
