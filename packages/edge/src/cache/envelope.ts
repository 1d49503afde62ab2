/**
 * The cache encryption envelope (docs/adr/0006-cache-encryption.md).
 *
 * Key hierarchy: a 32-byte master key, random per process and held only in a
 * Buffer in memory, is the HKDF-SHA256 input keying material for
 *  - the name key: HKDF(master, salt = "", info = "outpost/cache/v1/name"),
 *    which names each entry's file HMAC-SHA256(name key, cache key) in hex, so
 *    the directory listing reveals no URL;
 *  - one key per entry: HKDF(master, salt = 16 random bytes stored in the
 *    entry, info = "outpost/cache/v1/entry").
 *
 * Entry file: "OPC1" ‖ salt(16) ‖ nonce(12) ‖ AES-256-GCM ciphertext ‖ tag(16).
 * AAD = "OPC1" ‖ cache key (UTF-8), so an entry moved to another name (another
 * URL) fails to open. Each entry key encrypts exactly one message, so the
 * nonce could be fixed; it is random anyway, which costs nothing and keeps the
 * construction safe if a salt ever repeats.
 *
 * Without the master key (a restart, or {@link AesGcmEnvelope.wipe}) nothing
 * on disk can be opened or even attributed to a URL.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  hkdfSync,
  randomBytes,
} from 'node:crypto'
import { EdgeError } from '../errors.ts'

/** How the store seals entries. The null envelope exists for benchmarks only. */
export interface Envelope {
  readonly name: string
  /** The file name for a cache key (a keyed hash: no URL in file names). */
  fileName(cacheKey: string): string
  seal(cacheKey: string, plaintext: Uint8Array): Buffer
  /** The plaintext, or undefined when the entry is not authentic for this key (tampered, wiped, foreign). */
  open(cacheKey: string, sealed: Uint8Array): Buffer | undefined
  /** Forgets the keys (zeroises them). Afterwards `open` always fails and `seal` throws. */
  wipe(): void
}

const MAGIC = Buffer.from('OPC1')
const SALT = 16
const NONCE = 12
const TAG = 16
const HEAD = MAGIC.length + SALT + NONCE
const INFO_NAME = Buffer.from('outpost/cache/v1/name')
const INFO_ENTRY = Buffer.from('outpost/cache/v1/entry')

function hkdf(ikm: Buffer, salt: Uint8Array, info: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, 32))
}

/**
 * AES-256-GCM entries under per-entry HKDF keys.
 *
 * @example
 * ```ts
 * const env = new AesGcmEnvelope()
 * const sealed = env.seal('https://a.example/x', body)
 * env.open('https://a.example/x', sealed) // → body
 * env.wipe()
 * ```
 */
export class AesGcmEnvelope implements Envelope {
  readonly name = 'aes-256-gcm'
  #master: Buffer | undefined
  #nameKey: Buffer | undefined

  /** Takes ownership of `masterKey` (zeroised on wipe); a random one by default. */
  constructor(masterKey: Buffer = randomBytes(32)) {
    if (masterKey.length !== 32) {
      throw new EdgeError(
        'ERR_EDGE_CACHE_ENTRY',
        'Cannot create cache envelope: master key must be 32 bytes',
      )
    }
    this.#master = masterKey
    this.#nameKey = hkdf(masterKey, new Uint8Array(0), INFO_NAME)
  }

  fileName(cacheKey: string): string {
    if (this.#nameKey === undefined) throw wiped()
    return createHmac('sha256', this.#nameKey).update(cacheKey, 'utf8').digest('hex')
  }

  seal(cacheKey: string, plaintext: Uint8Array): Buffer {
    if (this.#master === undefined) throw wiped()
    const out = Buffer.allocUnsafe(HEAD + plaintext.length + TAG)
    MAGIC.copy(out, 0)
    const salt = randomBytes(SALT)
    const nonce = randomBytes(NONCE)
    salt.copy(out, MAGIC.length)
    nonce.copy(out, MAGIC.length + SALT)
    const key = hkdf(this.#master, salt, INFO_ENTRY)
    try {
      const c = createCipheriv('aes-256-gcm', key, nonce)
      c.setAAD(aadOf(cacheKey))
      let at = HEAD
      at += c.update(plaintext).copy(out, at)
      at += c.final().copy(out, at)
      c.getAuthTag().copy(out, at)
    } finally {
      key.fill(0)
    }
    return out
  }

  open(cacheKey: string, sealed: Uint8Array): Buffer | undefined {
    if (this.#master === undefined) return undefined
    if (sealed.length < HEAD + TAG) return undefined
    const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength)
    if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) return undefined
    const salt = buf.subarray(MAGIC.length, MAGIC.length + SALT)
    const nonce = buf.subarray(MAGIC.length + SALT, HEAD)
    const key = hkdf(this.#master, salt, INFO_ENTRY)
    try {
      const d = createDecipheriv('aes-256-gcm', key, nonce)
      d.setAAD(aadOf(cacheKey))
      d.setAuthTag(buf.subarray(buf.length - TAG))
      const body = d.update(buf.subarray(HEAD, buf.length - TAG))
      d.final() // throws when the tag does not verify
      return body
    } catch {
      return undefined
    } finally {
      key.fill(0)
    }
  }

  wipe(): void {
    this.#master?.fill(0)
    this.#nameKey?.fill(0)
    this.#master = undefined
    this.#nameKey = undefined
  }
}

function aadOf(cacheKey: string): Buffer {
  return Buffer.concat([MAGIC, Buffer.from(cacheKey, 'utf8')])
}

function wiped(): EdgeError {
  return new EdgeError('ERR_EDGE_CACHE_WIPED', 'Cannot use cache: its key was wiped')
}

/**
 * No encryption: an unkeyed hash for names, the plaintext behind a magic. For the
 * benchmark that prices the envelope (`npm run bench:edge`); never configure it.
 */
export class NullEnvelope implements Envelope {
  readonly name = 'null'
  #wiped = false
  fileName(cacheKey: string): string {
    return createHash('sha256').update(cacheKey, 'utf8').digest('hex')
  }
  seal(_cacheKey: string, plaintext: Uint8Array): Buffer {
    return Buffer.concat([MAGIC, plaintext])
  }
  open(_cacheKey: string, sealed: Uint8Array): Buffer | undefined {
    if (this.#wiped || sealed.length < MAGIC.length) return undefined
    return Buffer.from(
      sealed.buffer,
      sealed.byteOffset + MAGIC.length,
      sealed.byteLength - MAGIC.length,
    )
  }
  wipe(): void {
    this.#wiped = true
  }
}
