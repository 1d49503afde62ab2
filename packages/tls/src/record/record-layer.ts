/**
 * Record protection for one direction (RFC 8446 §5.2–§5.4), Go's `halfConn`:
 * the AEAD key and IV derived from one traffic secret, a 64-bit sequence number,
 * and the secret itself for KeyUpdate (RFC 8446 §7.2).
 *
 * Per-record nonce = IV XOR seq (RFC 8446 §5.3). node:crypto AEAD objects cannot
 * be re-keyed with a new nonce, so each record creates one, from a cached
 * KeyObject (much cheaper than from raw key bytes).
 */
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto'
import { AlertDescription, ContentType } from '../constants.ts'
import { InternalError, PeerMisbehavedError } from '../errors.ts'
import { nextTrafficSecret, trafficKeys } from '../crypto/key-schedule.ts'
import type { SuiteParams } from '../crypto/suites.ts'
import { MAX_PLAINTEXT_BYTES, RECORD_HEADER_BYTES } from './deframer.ts'

const TAG_BYTES = 16
/** Well below 2^64 and below the AES-GCM limit of ~2^24.5 full records per key (RFC 8446 §5.5). */
const MAX_RECORDS_PER_KEY = 2 ** 24

class HalfConn {
  protected readonly suite: SuiteParams
  protected key!: KeyObject
  protected readonly iv = new Uint8Array(12)
  protected readonly nonce = new Uint8Array(12)
  #trafficSecret: Uint8Array
  seq = 0

  constructor(suite: SuiteParams, trafficSecret: Uint8Array) {
    this.suite = suite
    this.#trafficSecret = new Uint8Array(trafficSecret)
    this.#install()
  }

  #install(): void {
    const { key, iv } = trafficKeys(this.suite, this.#trafficSecret)
    this.key = createSecretKey(key)
    key.fill(0)
    this.iv.set(iv)
    iv.fill(0)
    this.seq = 0
  }

  /** Moves to application_traffic_secret_N+1 (RFC 8446 §7.2). */
  update(): void {
    const next = nextTrafficSecret(this.suite, this.#trafficSecret)
    this.#trafficSecret.fill(0)
    this.#trafficSecret = next
    this.#install()
  }

  /** Nonce for the current seq, then seq++. */
  protected nextNonce(): Uint8Array {
    if (this.seq >= MAX_RECORDS_PER_KEY) {
      throw new InternalError('Cannot protect record: too many records under one key')
    }
    const n = this.nonce
    n.set(this.iv)
    let s = this.seq++
    for (let i = 11; i >= 4 && s > 0; i--) {
      n[i] = (n[i] as number) ^ (s & 0xff)
      s = Math.floor(s / 256)
    }
    return n
  }

  /** Zeroises what we can reach; the KeyObject is released to the GC. */
  drop(): void {
    this.#trafficSecret.fill(0)
    this.iv.fill(0)
    this.nonce.fill(0)
  }
}

/** The read direction: opens TLSCiphertext records. */
export class RecordDecrypter extends HalfConn {
  /**
   * Opens one record. Returns the inner content type and content; throws
   * bad_record_mac when the tag does not verify (RFC 8446 §5.2) and
   * record_overflow/unexpected_message per RFC 8446 §5.2, §5.4.
   */
  decrypt(header: Uint8Array, fragment: Uint8Array): { type: number; content: Uint8Array } {
    if (fragment.length < TAG_BYTES + 1) {
      throw new PeerMisbehavedError(AlertDescription.BadRecordMac, 'Cannot open record: too short')
    }
    const nonce = this.nextNonce()
    const d = createDecipheriv(this.suite.aead as 'aes-128-gcm', this.key, nonce, {
      authTagLength: TAG_BYTES,
    })
    d.setAAD(header)
    d.setAuthTag(fragment.subarray(fragment.length - TAG_BYTES))
    const plain = d.update(fragment.subarray(0, fragment.length - TAG_BYTES))
    try {
      d.final()
    } catch {
      throw new PeerMisbehavedError(AlertDescription.BadRecordMac, 'Cannot open record: bad tag')
    }
    // RFC 8446 §5.2: TLSInnerPlaintext must not exceed 2^14 + 1 bytes.
    if (plain.length > MAX_PLAINTEXT_BYTES + 1) {
      throw new PeerMisbehavedError(
        AlertDescription.RecordOverflow,
        `Cannot open record: inner plaintext of ${plain.length} bytes exceeds ${MAX_PLAINTEXT_BYTES + 1}`,
      )
    }
    // RFC 8446 §5.4: strip zero padding; the last non-zero byte is the type.
    let i = plain.length - 1
    while (i >= 0 && plain[i] === 0) i--
    if (i < 0) {
      throw new PeerMisbehavedError(
        AlertDescription.UnexpectedMessage,
        'Cannot open record: no content type in inner plaintext',
      )
    }
    return { type: plain[i] as number, content: plain.subarray(0, i) }
  }

  /** Seq rolls back when a trial decryption of skipped early data failed (RFC 8446 §4.2.10). */
  undoSeq(): void {
    this.seq--
  }
}

/** The write direction: seals records. */
export class RecordEncrypter extends HalfConn {
  /**
   * Like `encrypt`, but appends the record to `out` as pieces (header,
   * ciphertext, tag) without copying the ciphertext into one buffer: the bulk
   * write path hands the pieces to the socket as they are.
   */
  encryptParts(type: ContentType, content: Uint8Array, padBytes: number, out: Uint8Array[]): void {
    const len = content.length + 1 + padBytes + TAG_BYTES
    const header = new Uint8Array([ContentType.ApplicationData, 3, 3, len >>> 8, len & 0xff])
    const c = createCipheriv(this.suite.aead as 'aes-128-gcm', this.key, this.nextNonce(), {
      authTagLength: TAG_BYTES,
    })
    c.setAAD(header)
    out.push(header)
    if (content.length > 0) out.push(c.update(content))
    const tail = new Uint8Array(1 + padBytes)
    tail[0] = type
    out.push(c.update(tail))
    const f = c.final()
    if (f.length > 0) out.push(f)
    out.push(c.getAuthTag())
  }

  /**
   * One TLSCiphertext record carrying `content` (at most 2^14 bytes, or pieces
   * of at most that much together) of `type`, with `padBytes` zeros of padding
   * (RFC 8446 §5.4).
   */
  encrypt(
    type: ContentType,
    content: Uint8Array | readonly Uint8Array[],
    padBytes = 0,
  ): Uint8Array {
    const contentLen = lengthOf(content)
    const innerLen = contentLen + 1 + padBytes
    const len = innerLen + TAG_BYTES
    const out = new Uint8Array(RECORD_HEADER_BYTES + len)
    out[0] = ContentType.ApplicationData
    out[1] = 3
    out[2] = 3
    out[3] = len >>> 8
    out[4] = len & 0xff
    // TLSInnerPlaintext (RFC 8446 §5.2) laid out where its ciphertext goes:
    // content ‖ type ‖ zeros, sealed with one update() and overwritten by it.
    const inner = out.subarray(RECORD_HEADER_BYTES, RECORD_HEADER_BYTES + innerLen)
    copyInto(inner, content)
    inner[contentLen] = type
    const c = createCipheriv(this.suite.aead as 'aes-128-gcm', this.key, this.nextNonce(), {
      authTagLength: TAG_BYTES,
    })
    c.setAAD(out.subarray(0, RECORD_HEADER_BYTES))
    const sealed = c.update(inner)
    const f = c.final()
    if (sealed.length + f.length !== innerLen) {
      throw new InternalError('Cannot protect record: the AEAD changed the length')
    }
    inner.set(sealed)
    inner.set(f, sealed.length)
    out.set(c.getAuthTag(), RECORD_HEADER_BYTES + innerLen)
    return out
  }
}

function lengthOf(content: Uint8Array | readonly Uint8Array[]): number {
  if (content instanceof Uint8Array) return content.length
  let n = 0
  for (const c of content) n += c.length
  return n
}

/** Copies `content` (one piece or several, in order) to the start of `to`. */
function copyInto(to: Uint8Array, content: Uint8Array | readonly Uint8Array[]): void {
  if (content instanceof Uint8Array) {
    to.set(content)
    return
  }
  let at = 0
  for (const c of content) {
    to.set(c, at)
    at += c.length
  }
}

/** A TLSPlaintext record (RFC 8446 §5.1), used before keys are in place. */
export function plaintextRecord(
  type: ContentType,
  fragment: Uint8Array | readonly Uint8Array[],
): Uint8Array {
  const len = lengthOf(fragment)
  const out = new Uint8Array(RECORD_HEADER_BYTES + len)
  out[0] = type
  out[1] = 3
  out[2] = 3
  out[3] = len >>> 8
  out[4] = len & 0xff
  copyInto(out.subarray(RECORD_HEADER_BYTES), fragment)
  return out
}
