/**
 * HKDF (RFC 5869) and TLS 1.3's HKDF-Expand-Label / Derive-Secret (RFC 8446 §7.1).
 * Extract and Expand are separate steps in TLS, so we build them on HMAC rather
 * than `hkdfSync` (which fuses them).
 *
 * HMAC keys are {@link MacKey}s, prepared once per secret. With the native addon
 * (crypto/native.ts) each MAC is one call into OpenSSL (~0.5 µs for a label,
 * SHA-256 or SHA-384); without it, for SHA-256 our own HMAC (sha256.ts: ~1.5 µs
 * per label against ~6–9 µs for a node:crypto Hmac plus KeyObject), for SHA-384
 * a node:crypto KeyObject (an Hmac keyed by a KeyObject is several times cheaper
 * than one keyed by raw bytes on Node 24).
 */
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto'
import { bindingFor, defaultBackend, type CryptoBackend, type NativeBinding } from './native.ts'
import { HmacSha256 } from './sha256.ts'
import type { HashName } from './suites.ts'

const LABEL_PREFIX = new TextEncoder().encode('tls13 ')

/**
 * The HkdfLabel bytes before the context (RFC 8446 §7.1): uint16 length,
 * label<7..255> = "tls13 " + Label, and the context's length byte. A handful
 * of (label, length, context length) combinations occur; each is encoded once.
 */
const labelPrefixes = new Map<string, Map<number, Uint8Array>>()

function labelPrefix(label: string, length: number, contextLength: number): Uint8Array {
  let byLabel = labelPrefixes.get(label)
  if (!byLabel) {
    byLabel = new Map()
    if (labelPrefixes.size < 64) labelPrefixes.set(label, byLabel)
  }
  const key = length * 256 + contextLength
  let b = byLabel.get(key)
  if (!b) {
    const l = new TextEncoder().encode(label)
    b = new Uint8Array(2 + 1 + LABEL_PREFIX.length + l.length + 1)
    b[0] = length >>> 8
    b[1] = length & 0xff
    b[2] = LABEL_PREFIX.length + l.length
    b.set(LABEL_PREFIX, 3)
    b.set(l, 3 + LABEL_PREFIX.length)
    b[b.length - 1] = contextLength
    if (byLabel.size < 16) byLabel.set(key, b)
  }
  return b
}

/** An HMAC key prepared for several MACs; `drop()` zeroises what JavaScript can reach. */
export interface MacKey {
  /** HMAC(key, a ‖ b ‖ c), truncated to `length` bytes (default: the whole MAC). */
  mac(a: Uint8Array, b?: Uint8Array, c?: Uint8Array, length?: number): Uint8Array
  drop(): void
}

/** SHA-384 HMAC through node:crypto. */
class NodeMacKey implements MacKey {
  readonly #hash: HashName
  #key: KeyObject | Uint8Array

  constructor(hash: HashName, key: Uint8Array) {
    this.#hash = hash
    this.#key = hmacKey(key)
  }

  mac(a: Uint8Array, b?: Uint8Array, c?: Uint8Array, length?: number): Uint8Array {
    const h = createHmac(this.#hash, this.#key).update(a)
    if (b) h.update(b)
    if (c) h.update(c)
    const d = h.digest()
    if (length === undefined || length === d.length) {
      return new Uint8Array(d.buffer, d.byteOffset, d.length)
    }
    const out = new Uint8Array(d.subarray(0, length))
    d.fill(0)
    return out
  }

  /** Releases the KeyObject (Node clears its native copy when it is collected). */
  drop(): void {
    this.#key = new Uint8Array(0)
  }
}

/**
 * Where NativeMacKey lays out key ‖ message ‖ MAC for the addon: one array for
 * all MACs of this thread, large enough to live outside V8's heap (a small
 * on-heap Uint8Array passed to Node-API is first copied out of the heap, which
 * cost more than the HMAC). The addon zeroes key and message; the MAC is
 * zeroed here once copied out.
 */
const SCRATCH_BYTES = 1024
const scratch = new Uint8Array(SCRATCH_BYTES)

/**
 * HMAC in the native addon: the key is copied here (zeroised by `drop()`) and
 * handed to OpenSSL per MAC, which keeps nothing of it after the call.
 */
class NativeMacKey implements MacKey {
  readonly #native: NativeBinding
  readonly #hashLen: 32 | 48
  readonly #key: Uint8Array

  constructor(binding: NativeBinding, hash: HashName, key: Uint8Array) {
    this.#native = binding
    this.#hashLen = hash === 'sha256' ? 32 : 48
    this.#key = new Uint8Array(key)
  }

  mac(a: Uint8Array, b?: Uint8Array, c?: Uint8Array, length?: number): Uint8Array {
    const outLen = length ?? this.#hashLen
    const key = this.#key
    const total = key.length + a.length + (b?.length ?? 0) + (c?.length ?? 0) + outLen
    const s = total <= SCRATCH_BYTES ? scratch : new Uint8Array(total)
    s.set(key)
    let at = key.length
    s.set(a, at)
    at += a.length
    if (b !== undefined) {
      s.set(b, at)
      at += b.length
    }
    if (c !== undefined) {
      s.set(c, at)
      at += c.length
    }
    this.#native.hmac(this.#hashLen, s, key.length, at - key.length, outLen)
    const out = s.slice(at, at + outLen)
    s.fill(0, at, at + outLen)
    return out
  }

  drop(): void {
    this.#key.fill(0)
  }
}

/**
 * Prepares `key` for HMAC with `hash`. The caller still zeroises `key` itself.
 * `backend` picks the native addon or the JavaScript / node:crypto path (the
 * tests compare both).
 */
export function macKey(
  hash: HashName,
  key: Uint8Array,
  backend: CryptoBackend = defaultBackend,
): MacKey {
  const binding = bindingFor(backend)
  if (binding !== undefined) return new NativeMacKey(binding, hash, key)
  return hash === 'sha256' ? new HmacSha256(key) : new NodeMacKey(hash, key)
}

/** A KeyObject for node:crypto HMAC; an empty key (HKDF's default salt) is passed as bytes. */
export function hmacKey(key: Uint8Array): KeyObject | Uint8Array {
  return key.length === 0 ? key : createSecretKey(key)
}

/**
 * A pseudorandom key for HKDF-Expand: raw bytes (prepared and dropped per call)
 * or a {@link MacKey} prepared once for a secret expanded more than once.
 */
export type Prk = Uint8Array | MacKey

/** HKDF-Extract(salt, IKM) = HMAC-Hash(salt, IKM) (RFC 5869 §2.2). */
export function hkdfExtract(hash: HashName, salt: Prk, ikm: Uint8Array): Uint8Array {
  if (!(salt instanceof Uint8Array)) return salt.mac(ikm)
  const key = macKey(hash, salt)
  const out = key.mac(ikm)
  key.drop()
  return out
}

const COUNTER = [new Uint8Array([1]), new Uint8Array([2]), new Uint8Array([3])]

/** HKDF-Expand(PRK, info, L) (RFC 5869 §2.3). */
export function hkdfExpand(hash: HashName, prk: Prk, info: Uint8Array, length: number): Uint8Array {
  const key = prk instanceof Uint8Array ? macKey(hash, prk) : prk
  try {
    // One block (every TLS 1.3 label but none): T(1) = HMAC(PRK, info | 0x01).
    const first = key.mac(info, COUNTER[0])
    if (first.length === length) return first
    const out = new Uint8Array(length)
    let prev: Uint8Array = first
    let at = 0
    for (let i = 1; ; i++) {
      out.set(prev.subarray(0, Math.min(prev.length, length - at)), at)
      at += prev.length
      if (at >= length) break
      const block = key.mac(prev, info, COUNTER[i] ?? new Uint8Array([i + 1]))
      prev.fill(0)
      prev = block
    }
    prev.fill(0)
    return out
  } finally {
    if (key !== prk) key.drop()
  }
}

/**
 * HKDF-Expand-Label(Secret, Label, Context, Length) (RFC 8446 §7.1): the info is
 * struct { uint16 length; opaque label<7..255> = "tls13 " + Label; opaque context<0..255> }.
 */
export function hkdfExpandLabel(
  hash: HashName,
  secret: Prk,
  label: string,
  context: Uint8Array,
  length: number,
): Uint8Array {
  const prefix = labelPrefix(label, length, context.length)
  const hashLen = hash === 'sha256' ? 32 : 48
  if (length > hashLen) {
    const info = new Uint8Array(prefix.length + context.length)
    info.set(prefix)
    info.set(context, prefix.length)
    return hkdfExpand(hash, secret, info, length)
  }
  // One block, as every TLS 1.3 label: T(1) = HMAC(Secret, HkdfLabel ‖ 0x01),
  // without assembling HkdfLabel first.
  const key = secret instanceof Uint8Array ? macKey(hash, secret) : secret
  const t1 = key.mac(prefix, context, COUNTER[0], length)
  if (key !== secret) key.drop()
  return t1
}

/** Derive-Secret(Secret, Label, Messages) with Messages already hashed (RFC 8446 §7.1). */
export function deriveSecret(
  hash: HashName,
  secret: Prk,
  label: string,
  transcriptHash: Uint8Array,
): Uint8Array {
  return hkdfExpandLabel(hash, secret, label, transcriptHash, hash === 'sha256' ? 32 : 48)
}
