/**
 * The JOSE pieces Tang and Clevis need, and nothing more: base64url, P-521 EC JWKs
 * and their RFC 7638 thumbprints, ES512 JWS (verify with node:crypto, sign with
 * noble so no private KeyObject outlives the call), the RFC 7518 §4.6.2 Concat KDF
 * and A256GCM. Public values may be strings; private scalars are always bytes.
 */
import { createCipheriv, createHash, createPublicKey, verify, webcrypto } from 'node:crypto'
import { p521 } from '@noble/curves/nist.js'
import { JoseError } from '../errors.ts'

export const P521_BYTES = 66

export type Point = ReturnType<typeof p521.Point.fromAffine>

/** A public P-521 JWK as Tang and Clevis write it. */
export interface EcJwk {
  readonly kty: 'EC'
  readonly crv: 'P-521'
  readonly x: string
  readonly y: string
  readonly alg?: string
  readonly key_ops?: readonly string[]
}

export function b64uEncode(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64url')
}

export function b64uDecode(s: string, what: string): Buffer {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) throw new JoseError(`Cannot decode ${what}: not base64url`)
  return Buffer.from(s, 'base64url')
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch (e) {
    throw new JoseError(`Cannot decode ${what}: invalid JSON`, { cause: e })
  }
}

/** Validates a P-521 public JWK (shape and curve membership). */
export function parseEcJwk(v: unknown, what: string): EcJwk {
  if (!isRecord(v)) throw new JoseError(`Cannot decode ${what}: not an object`)
  const { kty, crv, x, y, alg, key_ops } = v
  if (kty !== 'EC' || crv !== 'P-521') {
    throw new JoseError(`Cannot decode ${what}: expected an EC P-521 key`)
  }
  if (typeof x !== 'string' || typeof y !== 'string') {
    throw new JoseError(`Cannot decode ${what}: missing x or y`)
  }
  if (alg !== undefined && typeof alg !== 'string') {
    throw new JoseError(`Cannot decode ${what}: alg is not a string`)
  }
  if (
    key_ops !== undefined &&
    (!Array.isArray(key_ops) || !key_ops.every((o) => typeof o === 'string'))
  ) {
    throw new JoseError(`Cannot decode ${what}: key_ops is not a list of strings`)
  }
  const jwk: EcJwk = {
    kty,
    crv,
    x,
    y,
    ...(alg !== undefined ? { alg } : {}),
    ...(key_ops !== undefined ? { key_ops: key_ops } : {}),
  }
  jwkToPoint(jwk, what) // checks the point is on the curve
  return jwk
}

function coord(s: string, what: string): bigint {
  const b = b64uDecode(s, what)
  if (b.length !== P521_BYTES) {
    throw new JoseError(`Cannot decode ${what}: coordinate is ${b.length} bytes, expected 66`)
  }
  return bytesToBigint(b)
}

export function bytesToBigint(b: Uint8Array): bigint {
  let n = 0n
  for (const x of b) n = (n << 8n) | BigInt(x)
  return n
}

export function bigintToBytes(n: bigint, len: number): Buffer {
  const out = Buffer.alloc(len)
  let v = n
  for (let i = len - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn)
    v >>= 8n
  }
  if (v !== 0n) throw new JoseError('Cannot encode integer: too large for its field')
  return out
}

/** The curve point of a JWK; rejects points off the curve (invalid-curve attacks). */
export function jwkToPoint(jwk: EcJwk, what = 'JWK'): Point {
  try {
    const p = p521.Point.fromAffine({ x: coord(jwk.x, what), y: coord(jwk.y, what) })
    p.assertValidity()
    return p
  } catch (e) {
    if (e instanceof JoseError) throw e
    throw new JoseError(`Cannot decode ${what}: not a point on P-521`, { cause: e })
  }
}

export function pointToJwk(p: Point, extra: { alg?: string; key_ops?: string[] } = {}): EcJwk {
  const a = p.toAffine()
  return {
    kty: 'EC',
    crv: 'P-521',
    x: b64uEncode(bigintToBytes(a.x, P521_BYTES)),
    y: b64uEncode(bigintToBytes(a.y, P521_BYTES)),
    ...extra,
  }
}

/** RFC 7638 §3.2: the required members in lexicographic order, no whitespace. */
export function thumbprint(jwk: EcJwk, hash: 'sha256' | 'sha1' = 'sha256'): string {
  const canonical = `{"crv":"${jwk.crv}","kty":"${jwk.kty}","x":"${jwk.x}","y":"${jwk.y}"}`
  return createHash(hash).update(canonical).digest('base64url')
}

/** True when `kid` is the S256 (or, for old clevis, S1) thumbprint of `jwk`. */
export function matchesKid(jwk: EcJwk, kid: string): boolean {
  return thumbprint(jwk) === kid || thumbprint(jwk, 'sha1') === kid
}

/** A uniformly random scalar in [1, n-1], as bytes (the caller zeroises them). */
export function randomScalar(): Uint8Array {
  return p521.utils.randomSecretKey()
}

export function scalarOf(b: Uint8Array): bigint {
  return bytesToBigint(b)
}

/** ES512 JWS signature over `signingInput` (RFC 7518 §3.4: raw R||S, 132 bytes). */
export function signEs512(signingInput: Uint8Array, d: Uint8Array): Uint8Array {
  return p521.sign(signingInput, d, { prehash: true, format: 'compact' })
}

export function verifyEs512(signingInput: Uint8Array, sig: Uint8Array, jwk: EcJwk): boolean {
  if (sig.length !== 2 * P521_BYTES) return false
  const key = createPublicKey({
    key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y },
    format: 'jwk',
  })
  return verify('sha512', signingInput, { key, dsaEncoding: 'ieee-p1363' }, sig)
}

/**
 * RFC 7518 §4.6.2 Concat KDF (NIST SP 800-56A), SHA-256, for ECDH-ES direct key
 * agreement: AlgorithmID is the `enc` value, PartyUInfo/PartyVInfo are `apu`/`apv`
 * (empty for clevis), SuppPubInfo is keydatalen in bits.
 */
export function concatKdf(
  z: Uint8Array,
  enc: string,
  keyBits: number,
  apu: Uint8Array = new Uint8Array(0),
  apv: Uint8Array = new Uint8Array(0),
): Buffer {
  const lp = (b: Uint8Array): Buffer => {
    const len = Buffer.alloc(4)
    len.writeUInt32BE(b.length)
    return Buffer.concat([len, b])
  }
  const supp = Buffer.alloc(4)
  supp.writeUInt32BE(keyBits)
  const otherInfo = Buffer.concat([lp(Buffer.from(enc, 'ascii')), lp(apu), lp(apv), supp])
  const out = Buffer.alloc(keyBits / 8)
  const rounds = Math.ceil(keyBits / 256)
  for (let i = 1; i <= rounds; i++) {
    const counter = Buffer.alloc(4)
    counter.writeUInt32BE(i)
    const h = createHash('sha256').update(counter).update(z).update(otherInfo).digest()
    h.copy(out, (i - 1) * 32)
    h.fill(0)
  }
  return out
}

export interface GcmOut {
  readonly iv: Buffer
  readonly ciphertext: Buffer
  readonly tag: Buffer
}

export function a256gcmEncrypt(
  key: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
  iv: Buffer,
): GcmOut {
  const c = createCipheriv('aes-256-gcm', key, iv)
  c.setAAD(aad)
  const ciphertext = Buffer.concat([c.update(plaintext), c.final()])
  return { iv, ciphertext, tag: c.getAuthTag() }
}

/**
 * Opens an A256GCM JWE payload. WebCrypto, not createDecipheriv: a Decipher's update()
 * allocates input + 1 bytes, decrypts into them and copies the result into an exact-size
 * buffer, freeing the first without clearing it, so the plaintext (the node's identity
 * key) stayed in freed native memory. WebCrypto decrypts into one buffer that OpenSSL
 * clears when it is freed; the caller zeroes the returned Buffer when done.
 */
export async function a256gcmDecrypt(key: Uint8Array, g: GcmOut, aad: Uint8Array): Promise<Buffer> {
  if (g.tag.length !== 16) throw new JoseError('Cannot decrypt JWE: tag is not 16 bytes')
  const k = await webcrypto.subtle.importKey('raw', key, 'AES-GCM', false, ['decrypt'])
  const sealed = Buffer.concat([g.ciphertext, g.tag])
  let plain: ArrayBuffer
  try {
    plain = await webcrypto.subtle.decrypt(
      { name: 'AES-GCM', iv: g.iv, additionalData: aad, tagLength: 128 },
      k,
      sealed,
    )
  } catch (e) {
    throw new JoseError('Cannot decrypt JWE: authentication failed', { cause: e })
  }
  return Buffer.from(plain)
}
