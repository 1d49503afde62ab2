/**
 * Handshake message framing (RFC 8446 §4): struct { HandshakeType msg_type;
 * uint24 length; body }. Messages may span records and records may carry several
 * messages; the joiner reassembles them and enforces per-type size limits from
 * the header alone, before the body is buffered.
 */
import { Writer } from '@outpost/wire'
import { HandshakeType } from '../constants.ts'
import { decodeError } from '../errors.ts'
import { Slabs } from '../slab.ts'

export interface HandshakeMessage {
  readonly type: number
  readonly body: Uint8Array
  /** Header plus body, as it enters the transcript. */
  readonly raw: Uint8Array
}

/** Largest ClientHello we accept: 2^16 bytes of extensions plus the fixed fields and lists. */
export const MAX_CLIENT_HELLO_BYTES = 0x10000 + 0x1000

/** Messages are encoded in this writer, reused (undefined while in use). */
let spareWriter: Writer | undefined = new Writer(2048)
/** A writer that grew beyond this is not kept. */
const MAX_SPARE_WRITER_BYTES = 16384

/**
 * Encoded messages of up to 1 KiB are copied into pieces of shared slabs: a handshake
 * sends several, and an array of its own each would be an ArrayBuffer. They are public
 * (they go to the peer) and never reused, so a piece is as good as an array of its own.
 */
const messageSlabs = new Slabs(1024)

/**
 * A zero-filled array of `n` bytes for public data that is written once (messages,
 * the content a CertificateVerify signs), from a slab when it is small.
 */
export function publicBytes(n: number): Uint8Array {
  return messageSlabs.take(n)
}

function copyOut(bytes: Uint8Array): Uint8Array {
  const out = publicBytes(bytes.length)
  out.set(bytes)
  return out
}

/** Encodes a handshake message whose body `body` writes. */
export function encodeHandshake(
  type: HandshakeType,
  body: (w: Writer) => void,
  sizeHint = 256,
): Uint8Array {
  // Not reentrant: a body that encodes another message gets a writer of its own.
  const w = spareWriter ?? new Writer(sizeHint)
  spareWriter = undefined
  try {
    w.reset().u8(type).prefixed24(body)
    return copyOut(w.view())
  } finally {
    spareWriter = w.length <= MAX_SPARE_WRITER_BYTES ? w : new Writer(2048)
  }
}

export class HandshakeJoiner {
  #buf: Uint8Array = new Uint8Array(0)
  #len = 0
  readonly #maxBytes: (type: number) => number

  /** @param maxBytes the largest body accepted for each type (a smaller declared length is still checked by the decoder). */
  constructor(maxBytes: (type: number) => number) {
    this.#maxBytes = maxBytes
  }

  /** True when a partial message is buffered (a key change must not happen then: RFC 8446 §5.1). */
  get hasPartial(): boolean {
    return this.#len > 0
  }

  push(fragment: Uint8Array): void {
    if (this.#len === 0) {
      this.#buf = fragment
      this.#len = fragment.length
      return
    }
    const next = new Uint8Array(this.#len + fragment.length)
    next.set(this.#buf.subarray(0, this.#len))
    next.set(fragment, this.#len)
    this.#buf = next
    this.#len = next.length
  }

  /** The next whole message, or undefined if more bytes are needed. */
  next(): HandshakeMessage | undefined {
    if (this.#len < 4) return undefined
    const b = this.#buf
    const type = b[0] as number
    const length = ((b[1] as number) << 16) | ((b[2] as number) << 8) | (b[3] as number)
    const max = this.#maxBytes(type)
    if (length > max) {
      throw decodeError(
        `Cannot decode handshake message type ${type}: length ${length} exceeds ${max}`,
      )
    }
    if (this.#len < 4 + length) return undefined
    const raw = b.subarray(0, 4 + length)
    this.#buf = b.subarray(4 + length, this.#len)
    this.#len -= 4 + length
    return { type, body: raw.subarray(4), raw }
  }
}
