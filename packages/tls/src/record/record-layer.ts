/**
 * Record protection for one direction (RFC 8446 §5.2–§5.4), Go's `halfConn`:
 * the AEAD key and IV derived from one traffic secret, a 64-bit sequence number,
 * and the secret itself for KeyUpdate (RFC 8446 §7.2).
 *
 * Per-record nonce = IV XOR seq (RFC 8446 §5.3). Two backends give the same bytes
 * (crypto/native.ts): 'native' keeps one OpenSSL AEAD context per traffic key,
 * keyed once, and only re-nonces it per record (the IV stays in C and is
 * cleansed with the context); 'node' creates a node:crypto Cipheriv/Decipheriv
 * per record (those cannot take a new nonce), from a cached KeyObject.
 */
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto'
import { AlertDescription, ContentType } from '../constants.ts'
import { InternalError, PeerMisbehavedError } from '../errors.ts'
import { nextTrafficSecret, trafficKeys } from '../crypto/key-schedule.ts'
import {
  bindingFor,
  defaultBackend,
  type CryptoBackend,
  type NativeAead,
  type NativeBinding,
} from '../crypto/native.ts'
import type { SuiteParams } from '../crypto/suites.ts'
import { MAX_PLAINTEXT_BYTES, RECORD_HEADER_BYTES } from './deframer.ts'

const TAG_BYTES = 16
/** Well below 2^64 and below the AES-GCM limit of ~2^24.5 full records per key (RFC 8446 §5.5). */
const MAX_RECORDS_PER_KEY = 2 ** 24
/** Off V8's heap (larger than 64 bytes), for traffic secrets on their way to the addon. */
const SECRET_SCRATCH = new Uint8Array(128)
const NO_BYTES = new Uint8Array(0)

class HalfConn {
  protected readonly suite: SuiteParams
  readonly #binding: NativeBinding | undefined
  readonly #direction: 'seal' | 'open'
  /** True on the native backend. */
  protected readonly isNative: boolean
  /** The native backend's context for the current key. */
  protected aead: NativeAead | undefined
  /** The node backend's key, IV and nonce (empty on the native backend: the IV stays in C). */
  protected key: KeyObject | undefined
  protected readonly iv: Uint8Array
  protected readonly nonce: Uint8Array
  #trafficSecret: Uint8Array
  seq = 0

  constructor(
    suite: SuiteParams,
    trafficSecret: Uint8Array,
    direction: 'seal' | 'open',
    backend: CryptoBackend,
  ) {
    this.suite = suite
    this.#binding = bindingFor(backend)
    this.isNative = this.#binding !== undefined
    this.iv = this.isNative ? NO_BYTES : new Uint8Array(12)
    this.nonce = this.isNative ? NO_BYTES : new Uint8Array(12)
    this.#direction = direction
    this.#trafficSecret = new Uint8Array(trafficSecret)
    this.#install()
  }

  /** The backend this direction runs on. */
  get backend(): CryptoBackend {
    return this.isNative ? 'native' : 'node'
  }

  #install(): void {
    const binding = this.#binding
    if (binding !== undefined) {
      // The addon derives key and IV from the secret itself: they never exist here.
      // A secret of at most 64 bytes is an array on V8's heap, which Node-API would
      // first move off the heap (a new ArrayBuffer holding a copy nobody zeroes):
      // it goes through an off-heap scratch array instead, zeroed right after.
      const secret = SECRET_SCRATCH.subarray(0, this.#trafficSecret.length)
      secret.set(this.#trafficSecret)
      try {
        // After the first key the context is rekeyed in place (handshake → application
        // keys, KeyUpdate): no new OpenSSL context, JS object or finalizer.
        if (this.aead !== undefined) this.aead.rekey(secret)
        else
          this.aead = new binding.Aead(this.suite.aead, this.#direction, secret, this.suite.hashLen)
      } finally {
        secret.fill(0)
      }
    } else {
      const { key, iv } = trafficKeys(this.suite, this.#trafficSecret)
      this.key = createSecretKey(key)
      this.iv.set(iv)
      key.fill(0)
      iv.fill(0)
    }
    this.seq = 0
  }

  /**
   * Switches this direction to the next traffic secret of the same suite (the
   * handshake → application key change, RFC 8446 §7.1); the old key is gone and
   * the sequence number restarts at 0.
   */
  rekey(suite: SuiteParams, trafficSecret: Uint8Array): void {
    if (suite !== this.suite) throw new InternalError('Cannot rekey: the cipher suite changed')
    this.#trafficSecret.fill(0)
    this.#trafficSecret = new Uint8Array(trafficSecret)
    this.#install()
  }

  /** Moves to application_traffic_secret_N+1 (RFC 8446 §7.2); the old key is gone (as for rekey). */
  update(): void {
    const next = nextTrafficSecret(this.suite, this.#trafficSecret)
    this.#trafficSecret.fill(0)
    this.#trafficSecret = next
    this.#install()
  }

  /** The current seq, then seq++. */
  protected nextSeq(): number {
    if (this.seq >= MAX_RECORDS_PER_KEY) {
      throw new InternalError('Cannot protect record: too many records under one key')
    }
    return this.seq++
  }

  /** The node backend's nonce for the current seq, then seq++. */
  protected nextNonce(): Uint8Array {
    const n = this.nonce
    n.set(this.iv)
    let s = this.nextSeq()
    for (let i = 11; i >= 4 && s > 0; i--) {
      n[i] = (n[i] as number) ^ (s & 0xff)
      s = Math.floor(s / 256)
    }
    return n
  }

  /** The node backend's KeyObject; throws once dropped. */
  protected keyObject(): KeyObject {
    if (this.key === undefined) throw new InternalError('Cannot protect record: keys dropped')
    return this.key
  }

  /** The native backend's context; throws once dropped. */
  protected context(): NativeAead {
    if (this.aead === undefined) throw new InternalError('Cannot protect record: keys dropped')
    return this.aead
  }

  /**
   * Zeroises what we can reach: the native context (key schedule and IV, in C) is
   * freed now; a node KeyObject is released to the GC.
   */
  drop(): void {
    this.aead?.free()
    this.aead = undefined
    this.key = undefined
    this.#trafficSecret.fill(0)
    this.iv.fill(0)
    this.nonce.fill(0)
  }
}

/** The read direction: opens TLSCiphertext records. */
export class RecordDecrypter extends HalfConn {
  constructor(suite: SuiteParams, trafficSecret: Uint8Array, backend = defaultBackend) {
    super(suite, trafficSecret, 'open', backend)
  }

  /**
   * Opens one record. Returns the inner content type and content; throws
   * bad_record_mac when the tag does not verify (RFC 8446 §5.2) and
   * record_overflow/unexpected_message per RFC 8446 §5.2, §5.4.
   *
   * With `inPlace` (native backend only) the plaintext overwrites the
   * ciphertext in `fragment` and the content is a view of it; a record that
   * fails its tag is left zeroed there.
   */
  decrypt(
    header: Uint8Array,
    fragment: Uint8Array,
    inPlace = false,
  ): { type: number; content: Uint8Array } {
    if (fragment.length < TAG_BYTES + 1) {
      throw new PeerMisbehavedError(AlertDescription.BadRecordMac, 'Cannot open record: too short')
    }
    const plain = this.isNative
      ? this.#openNative(header, fragment, inPlace)
      : this.#openNode(header, fragment)
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

  #openNative(header: Uint8Array, fragment: Uint8Array, inPlace: boolean): Uint8Array {
    const aead = this.context()
    const out = inPlace ? fragment : new Uint8Array(fragment.length - TAG_BYTES)
    const n = aead.open(this.nextSeq(), header, fragment, out, 0)
    if (n < 0) {
      throw new PeerMisbehavedError(AlertDescription.BadRecordMac, 'Cannot open record: bad tag')
    }
    return out.subarray(0, n)
  }

  #openNode(header: Uint8Array, fragment: Uint8Array): Uint8Array {
    const key = this.keyObject()
    const d = createDecipheriv(this.suite.aead as 'aes-128-gcm', key, this.nextNonce(), {
      authTagLength: TAG_BYTES,
    })
    d.setAAD(header)
    d.setAuthTag(fragment.subarray(fragment.length - TAG_BYTES))
    const plain = d.update(fragment.subarray(0, fragment.length - TAG_BYTES))
    try {
      d.final()
    } catch {
      plain.fill(0)
      throw new PeerMisbehavedError(AlertDescription.BadRecordMac, 'Cannot open record: bad tag')
    }
    return plain
  }

  /** Seq rolls back when a trial decryption of skipped early data failed (RFC 8446 §4.2.10). */
  undoSeq(): void {
    this.seq--
  }
}

/** Allocates the array a record is sealed into; every byte of it gets written. */
export type RecordAllocator = (bytes: number) => Uint8Array

const zeroedArray: RecordAllocator = (bytes) => new Uint8Array(bytes)

/** The write direction: seals records. */
export class RecordEncrypter extends HalfConn {
  readonly #allocate: RecordAllocator

  /**
   * `allocate` may return uninitialised memory (a Node driver passes
   * `Buffer.allocUnsafe`: several times cheaper than a zeroed array for a full
   * record): every byte of a record is written before it is returned.
   */
  constructor(
    suite: SuiteParams,
    trafficSecret: Uint8Array,
    backend = defaultBackend,
    allocate: RecordAllocator = zeroedArray,
  ) {
    super(suite, trafficSecret, 'seal', backend)
    this.#allocate = allocate
  }

  /**
   * Like `encrypt`, but appends the record to `out`. The node backend appends it
   * as pieces (header, ciphertext, tag) without copying the ciphertext into one
   * buffer, so the bulk write path hands the pieces to the socket as they are;
   * the native backend seals into one buffer (sealing costs less than a piece).
   */
  encryptParts(type: ContentType, content: Uint8Array, padBytes: number, out: Uint8Array[]): void {
    if (this.isNative) {
      out.push(this.encrypt(type, content, padBytes))
      return
    }
    const len = content.length + 1 + padBytes + TAG_BYTES
    const header = new Uint8Array([ContentType.ApplicationData, 3, 3, len >>> 8, len & 0xff])
    const c = createCipheriv(this.suite.aead as 'aes-128-gcm', this.keyObject(), this.nextNonce(), {
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
    const out = this.#allocate(RECORD_HEADER_BYTES + len)
    if (out.length !== RECORD_HEADER_BYTES + len) {
      throw new InternalError('Cannot protect record: the allocator returned the wrong length')
    }
    out[0] = ContentType.ApplicationData
    out[1] = 3
    out[2] = 3
    out[3] = len >>> 8
    out[4] = len & 0xff
    // TLSInnerPlaintext (RFC 8446 §5.2) laid out where its ciphertext goes:
    // content ‖ type ‖ zeros, sealed in place.
    const inner = out.subarray(RECORD_HEADER_BYTES, RECORD_HEADER_BYTES + innerLen)
    copyInto(inner, content)
    inner[contentLen] = type
    if (padBytes > 0) inner.fill(0, contentLen + 1)
    if (this.isNative) {
      this.context().seal(this.nextSeq(), out, RECORD_HEADER_BYTES)
      return out
    }
    const c = createCipheriv(this.suite.aead as 'aes-128-gcm', this.keyObject(), this.nextNonce(), {
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

/**
 * A TLSPlaintext record (RFC 8446 §5.1), used before keys are in place. `allocate`
 * as for RecordEncrypter: every byte of what it returns is written.
 */
export function plaintextRecord(
  type: ContentType,
  fragment: Uint8Array | readonly Uint8Array[],
  allocate: RecordAllocator = zeroedArray,
): Uint8Array {
  const len = lengthOf(fragment)
  const out = allocate(RECORD_HEADER_BYTES + len)
  if (out.length !== RECORD_HEADER_BYTES + len) {
    throw new InternalError('Cannot frame record: the allocator returned the wrong length')
  }
  out[0] = type
  out[1] = 3
  out[2] = 3
  out[3] = len >>> 8
  out[4] = len & 0xff
  copyInto(out.subarray(RECORD_HEADER_BYTES), fragment)
  return out
}
