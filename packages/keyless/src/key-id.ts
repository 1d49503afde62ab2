/**
 * Key identifiers a keyless client sends so the server can find the key
 * (docs/protocol/keyless.md §7): the SKI (RFC 5280 §4.2.1.2 method 1), which is
 * the only interoperable one, and the legacy certificate digest.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto'
import { Reader } from '@outpost/wire'
import { KeylessFormatError } from './errors.ts'

/**
 * SHA-1 over the contents of the subjectPublicKey BIT STRING of the key's
 * SubjectPublicKeyInfo, without the unused-bits byte (RFC 5280 §4.2.1.2 (1)).
 * For EC keys that is SHA-1(04‖X‖Y); for RSA, SHA-1 of the DER RSAPublicKey.
 *
 * @example
 * ```ts
 * const ski = skiOf(new crypto.X509Certificate(certPem).publicKey) // 20 bytes
 * ```
 */
export function skiOf(publicKey: KeyObject): Uint8Array {
  const key = publicKey.type === 'private' ? createPublicKey(publicKey) : publicKey
  const spki = new Uint8Array(key.export({ type: 'spki', format: 'der' }))
  const outer = derContents(new Reader(spki, 'SubjectPublicKeyInfo'), 0x30)
  derContents(outer, 0x30) // AlgorithmIdentifier
  const bits = derContents(outer, 0x03)
  if (bits.u8('unused bits') !== 0) {
    throw new KeylessFormatError('Cannot decode SubjectPublicKeyInfo: unused bits in key')
  }
  return new Uint8Array(createHash('sha1').update(bits.rest()).digest())
}

// Reads one DER TLV with the expected tag and returns a reader over its contents.
function derContents(r: Reader, tag: number): Reader {
  const t = r.u8('DER tag')
  if (t !== tag) {
    throw new KeylessFormatError(
      `Cannot decode SubjectPublicKeyInfo: expected tag ${tag}, got ${t}`,
    )
  }
  let len = r.u8('DER length')
  if (len & 0x80) {
    const n = len & 0x7f
    if (n === 0 || n > 3)
      throw new KeylessFormatError('Cannot decode SubjectPublicKeyInfo: bad length')
    len = 0
    for (let i = 0; i < n; i++) len = len * 256 + r.u8('DER length')
  }
  return r.sub(len)
}

/**
 * The legacy certificate digest (tag 0x01): SHA-256 over the uppercase hex of the
 * RSA modulus, or of the compressed EC point (02/03‖X). For RSA, 'openssl' hex
 * keeps a leading 0 nibble (whole bytes, what the C server computes) and 'go'
 * drops it; they differ only when the modulus bit length is not a multiple of 8.
 *
 * @example
 * ```ts
 * const digest = certificateDigestOf(crypto.createPublicKey(certPem)) // 32 bytes
 * ```
 */
export function certificateDigestOf(
  publicKey: KeyObject,
  style: 'openssl' | 'go' = 'openssl',
): Uint8Array {
  const jwk = publicKey.export({ format: 'jwk' })
  let hex: string
  if (jwk.kty === 'RSA' && jwk.n !== undefined) {
    hex = hexOf(fromB64url(jwk.n))
    hex = hex.replace(/^0+/, '')
    if (style === 'openssl' && hex.length % 2 === 1) hex = '0' + hex
  } else if (jwk.kty === 'EC' && jwk.x !== undefined && jwk.y !== undefined) {
    const y = fromB64url(jwk.y)
    const odd = ((y[y.length - 1] ?? 0) & 1) === 1
    hex = (odd ? '03' : '02') + hexOf(fromB64url(jwk.x))
  } else {
    throw new TypeError(`certificateDigestOf() supports RSA and EC keys, got ${String(jwk.kty)}`)
  }
  return new Uint8Array(createHash('sha256').update(hex.toUpperCase(), 'ascii').digest())
}

function fromB64url(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'base64url'))
}

function hexOf(b: Uint8Array): string {
  let s = ''
  for (const x of b) s += x.toString(16).padStart(2, '0')
  return s
}
