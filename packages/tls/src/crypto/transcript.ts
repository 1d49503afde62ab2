/**
 * The running transcript hash (RFC 8446 §4.4.1). Intermediate values come from
 * `Hash.copy()`, so the transcript is hashed once, incrementally.
 */
import { createHash, type Hash } from 'node:crypto'
import { HandshakeType } from '../constants.ts'
import type { HashName } from './suites.ts'

export class Transcript {
  readonly #hash: Hash
  readonly hashName: HashName

  constructor(hashName: HashName) {
    this.hashName = hashName
    this.#hash = createHash(hashName)
  }

  /**
   * The transcript after a HelloRetryRequest starts with the synthetic
   * message_hash message that stands for ClientHello1 (RFC 8446 §4.4.1).
   */
  static afterRetry(hashName: HashName, clientHello1Hash: Uint8Array): Transcript {
    const t = new Transcript(hashName)
    t.update(
      new Uint8Array([
        HandshakeType.MessageHash,
        0,
        0,
        clientHello1Hash.length,
        ...clientHello1Hash,
      ]),
    )
    return t
  }

  /** Adds a whole handshake message (header included). */
  update(message: Uint8Array): void {
    this.#hash.update(message)
  }

  /** Transcript-Hash of everything added so far. */
  current(): Uint8Array {
    return this.#hash.copy().digest()
  }

  /** Transcript-Hash of everything so far plus `extra`, without adding it. */
  currentWith(extra: Uint8Array): Uint8Array {
    return this.#hash.copy().update(extra).digest()
  }
}

export function hashOf(hashName: HashName, data: Uint8Array): Uint8Array {
  return createHash(hashName).update(data).digest()
}
