/**
 * The cache encryption envelope (docs/adr/0006-cache-encryption.md).
 *
 * Key hierarchy: a 32-byte master key, random per process and held only in a
 * Buffer in memory, is the HKDF-SHA256 input keying material for
 *  - the name key: HKDF(master, salt = "", info = "outpost/cache/v1/name"),
 *    which names each entry's file HMAC-SHA256(name key, cache key) in hex, so
 *    the directory listing reveals no URL;
 *  - generation keys: HKDF(master, salt = u32 generation, info =
 *    "outpost/cache/v1/entry"). A generation seals at most 2^24 entries, then
 *    the next one starts, so random 96-bit nonces stay far inside AES-GCM's
 *    bounds (collision odds per key ≈ 2^48 / 2^97). Generation keys are
 *    Buffers, cached in memory and zeroised with the master key.
 *
 * Entry file: "OPC1" ‖ generation (u32) ‖ nonce (12) ‖ AES-256-GCM ciphertext ‖ tag (16).
 * AAD = "OPC1" ‖ cache key (UTF-8), so an entry moved to another name (another
 * URL) fails to open. A first version derived one key per entry from a random
 * salt; on OpenSSL 3 every node:crypto call pays a context set-up, and that
 * extra HKDF per hit cost about as much as the AES-GCM itself (ADR 0006).
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
import { aes256GcmOnce, type Aes256GcmOnce } from '@outpost/tls'
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
const GEN = 4
const NONCE = 12
const TAG = 16
const HEAD = MAGIC.length + GEN + NONCE
/** Entries sealed under one generation key before the next generation starts. */
const PER_GENERATION = 2 ** 24
const INFO_NAME = Buffer.from('outpost/cache/v1/name')
const INFO_ENTRY = Buffer.from('outpost/cache/v1/entry')

function hkdf(ikm: Buffer, salt: Uint8Array, info: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, 32))
}

/**
 * AES-256-GCM entries under generation keys derived from an in-memory master key.
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
  readonly #generations = new Map<number, Buffer>()
  #generation = 0
  #sealedInGeneration = 0
  /** AES-256-GCM in one call on the TLS addon when it is loaded, else node:crypto (same bytes). */
  readonly #once: Aes256GcmOnce | undefined

  /**
   * Takes ownership of `masterKey` (zeroised on wipe); a random one by default. `backend`
   * 'node' keeps AES-GCM on node:crypto even when the addon is loaded (tests run both).
   */
  constructor(masterKey: Buffer = randomBytes(32), backend: 'default' | 'node' = 'default') {
    this.#once = backend === 'node' ? undefined : aes256GcmOnce
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
    if (this.#sealedInGeneration >= PER_GENERATION) {
      this.#generation++
      this.#sealedInGeneration = 0
    }
    const gen = this.#generation
    const key = this.#keyFor(gen)
    if (key === undefined) throw wiped()
    this.#sealedInGeneration++
    const out = Buffer.allocUnsafe(HEAD + plaintext.length + TAG)
    MAGIC.copy(out, 0)
    out.writeUInt32BE(gen, MAGIC.length)
    randomBytes(NONCE).copy(out, MAGIC.length + GEN)
    const nonce = out.subarray(MAGIC.length + GEN, HEAD)
    if (this.#once !== undefined) {
      this.#once.seal(key, nonce, aadOf(cacheKey), plaintext, out, HEAD)
      return out
    }
    const c = createCipheriv('aes-256-gcm', key, nonce)
    c.setAAD(aadOf(cacheKey))
    let at = HEAD
    at += c.update(plaintext).copy(out, at)
    at += c.final().copy(out, at)
    c.getAuthTag().copy(out, at)
    return out
  }

  open(cacheKey: string, sealed: Uint8Array): Buffer | undefined {
    if (sealed.length < HEAD + TAG) return undefined
    const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength)
    if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) return undefined
    const key = this.#keyFor(buf.readUInt32BE(MAGIC.length))
    if (key === undefined) return undefined
    const nonce = buf.subarray(MAGIC.length + GEN, HEAD)
    if (this.#once !== undefined) {
      const body = Buffer.allocUnsafe(buf.length - HEAD - TAG)
      const ok = this.#once.open(key, nonce, aadOf(cacheKey), buf.subarray(HEAD), body, 0)
      return ok ? body : undefined
    }
    try {
      const d = createDecipheriv('aes-256-gcm', key, nonce)
      d.setAAD(aadOf(cacheKey))
      d.setAuthTag(buf.subarray(buf.length - TAG))
      const body = d.update(buf.subarray(HEAD, buf.length - TAG))
      d.final() // throws when the tag does not verify
      return body
    } catch {
      return undefined
    }
  }

  wipe(): void {
    this.#master?.fill(0)
    this.#nameKey?.fill(0)
    for (const k of this.#generations.values()) k.fill(0)
    this.#generations.clear()
    this.#master = undefined
    this.#nameKey = undefined
  }

  /** The key of generation `gen` (derived once, kept until wipe); undefined if wiped or never used. */
  #keyFor(gen: number): Buffer | undefined {
    if (this.#master === undefined || gen > this.#generation) return undefined
    let k = this.#generations.get(gen)
    if (k === undefined) {
      const salt = Buffer.alloc(GEN)
      salt.writeUInt32BE(gen, 0)
      k = hkdf(this.#master, salt, INFO_ENTRY)
      this.#generations.set(gen, k)
    }
    return k
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
