/**
 * Privacy Pass redemption (RFC 9577), token type 2: publicly verifiable Blind RSA
 * (RSASSA-PSS SHA-384, 2048-bit keys; RFC 9578 §6, RFC 9474).
 *
 *   TokenChallenge = token_type(2) ‖ issuer_name<1..2^16-1> ‖ redemption_context<0..32>
 *                    ‖ origin_info<0..2^16-1>                       (RFC 9577 §2.1)
 *   Token          = token_type(2) ‖ nonce(32) ‖ challenge_digest(32) ‖ token_key_id(32)
 *                    ‖ authenticator(256)                           (RFC 9577 §2.2)
 *   token_input    = Token without the authenticator
 *   valid          ⇔ RSASSA-PSS-Verify(pkI, token_input, authenticator), SHA-384, salt 48
 *
 * The challenge has an empty redemption context (one per origin), so the token is
 * bound to this origin by challenge_digest; single use is enforced by the caller's
 * replay cache on the nonce. token_key_id and `token-key` use the key's RFC 9578 §6.5
 * encoding (id-RSASSA-PSS SubjectPublicKeyInfo), whatever SPKI the operator configured.
 */
import { constants, createHash, createPublicKey, verify, type KeyObject } from 'node:crypto'
import { ctEqual } from '@outpost/wire'

export const TOKEN_TYPE_BLIND_RSA = 0x0002
const NK = 256
export const TOKEN_BYTES = 2 + 32 + 32 + 32 + NK

export function tokenChallenge(issuerName: string, originInfo: string): Buffer {
  const issuer = Buffer.from(issuerName)
  const origin = Buffer.from(originInfo)
  const b = Buffer.alloc(2 + 2 + issuer.length + 1 + 2 + origin.length)
  let o = b.writeUInt16BE(TOKEN_TYPE_BLIND_RSA, 0)
  o = b.writeUInt16BE(issuer.length, o)
  o += issuer.copy(b, o)
  o = b.writeUInt8(0, o)
  o = b.writeUInt16BE(origin.length, o)
  origin.copy(b, o)
  return b
}

export interface Issuer {
  /** token_key_id = SHA-256 of the RFC 9578 §6.5 encoding of the key. */
  readonly keyId: Buffer
  readonly key: KeyObject
  /** The issuer key as sent in `token-key=` (base64url of the §6.5 encoding). */
  readonly tokenKey: string
}

/** One DER TLV (X.690 §8.1) with a definite length. */
function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content)
  const n = body.length
  const len =
    n < 0x80 ? Buffer.of(n) : n < 0x100 ? Buffer.of(0x81, n) : Buffer.of(0x82, n >> 8, n & 0xff)
  return Buffer.concat([Buffer.of(tag), len, body])
}

const OID = (hex: string): Buffer => tlv(0x06, Buffer.from(hex, 'hex'))
/** id-sha384 (2.16.840.1.101.3.4.2.2), parameters absent (RFC 9578 §6.5, as in its vectors). */
const SHA384_ALG = tlv(0x30, OID('608648016503040202'))
/**
 * AlgorithmIdentifier { id-RSASSA-PSS (1.2.840.113549.1.1.10), RSASSA-PSS-params {
 * hashAlgorithm [0] id-sha384, maskGenAlgorithm [1] id-mgf1 (1.2.840.113549.1.1.8)
 * with id-sha384, saltLength [2] 48 } } (RFC 4055 §3.1; RFC 9578 §6.5).
 */
const RSASSA_PSS_SHA384 = tlv(
  0x30,
  OID('2a864886f70d01010a'),
  tlv(
    0x30,
    tlv(0xa0, SHA384_ALG),
    tlv(0xa1, tlv(0x30, OID('2a864886f70d010108'), SHA384_ALG)),
    tlv(0xa2, tlv(0x02, Buffer.of(48))),
  ),
)

/** [start, end) of the contents of the TLV at `at` in `der` (short or long form). */
function contents(der: Buffer, at: number): { start: number; end: number } {
  const first = der[at + 1] ?? 0
  let start = at + 2
  let len = first
  if (first & 0x80) {
    len = 0
    for (let i = 0; i < (first & 0x7f); i++) len = len * 256 + (der[start + i] ?? 0)
    start += first & 0x7f
  }
  if (start + len > der.length) throw new Error('privacyPass.issuerKeys: truncated DER')
  return { start, end: start + len }
}

/**
 * The RFC 9578 §6.5 encoding of an RSA public key: a SubjectPublicKeyInfo whose
 * algorithm is id-RSASSA-PSS with SHA-384, MGF1-SHA-384 and a 48-byte salt, and
 * whose subjectPublicKey is the RSAPublicKey (n, e) — whatever encoding the key came in.
 */
export function rfc9578Spki(key: KeyObject): Buffer {
  const der = key.export({ type: 'spki', format: 'der' })
  const spki = contents(der, 0)
  const alg = contents(der, spki.start) // AlgorithmIdentifier; the BIT STRING follows it
  const bits = contents(der, alg.end)
  if (der[alg.end] !== 0x03 || der[bits.start] !== 0)
    throw new Error('privacyPass.issuerKeys: not an RSA SubjectPublicKeyInfo')
  return tlv(0x30, RSASSA_PSS_SHA384, tlv(0x03, der.subarray(bits.start, bits.end)))
}

/**
 * An issuer key from base64 SPKI DER: rsaEncryption or id-RSASSA-PSS (as OpenSSL writes
 * it, or as RFC 9578 does), 2048 bits. token_key_id = SHA-256 over the RFC 9578 §6.5
 * encoding, not over the bytes given: OpenSSL writes the hash parameters as NULL and
 * rsaEncryption keys have another OID, and either would give a key id no client sends.
 */
export function issuerFromSpki(spkiBase64: string): Issuer {
  const given = createPublicKey({
    key: Buffer.from(spkiBase64, 'base64'),
    format: 'der',
    type: 'spki',
  })
  const d = given.asymmetricKeyDetails
  if (given.asymmetricKeyType !== 'rsa' && given.asymmetricKeyType !== 'rsa-pss')
    throw new Error('privacyPass.issuerKeys: need an RSA key (RFC 9578 token type 2)')
  if (d?.modulusLength !== 2048) throw new Error('privacyPass.issuerKeys: need a 2048-bit RSA key')
  if (
    given.asymmetricKeyType === 'rsa-pss' &&
    d.hashAlgorithm !== undefined &&
    (d.hashAlgorithm !== 'sha384' || d.mgf1HashAlgorithm !== 'sha384' || d.saltLength !== 48)
  )
    throw new Error(
      'privacyPass.issuerKeys: an RSASSA-PSS key must use SHA-384, MGF1-SHA-384 and a 48-byte salt (RFC 9578 §6.5)',
    )
  const der = rfc9578Spki(given)
  return {
    keyId: createHash('sha256').update(der).digest(),
    key: createPublicKey({ key: der, format: 'der', type: 'spki' }),
    tokenKey: der.toString('base64url'),
  }
}

/** `WWW-Authenticate: PrivateToken challenge=…, token-key=…` (RFC 9577 §2.1). */
export function wwwAuthenticate(challenge: Buffer, issuer: Issuer): string {
  return `PrivateToken challenge="${challenge.toString('base64url')}", token-key="${issuer.tokenKey}"`
}

/** The token bytes of `Authorization: PrivateToken token="…"`, or undefined. */
export function parseAuthorization(value: string | undefined): Buffer | undefined {
  if (value === undefined) return undefined
  const m = /^PrivateToken\s+token="?([A-Za-z0-9_=+/-]+)"?\s*$/i.exec(value)
  if (m?.[1] === undefined) return undefined
  const b = Buffer.from(m[1].replace(/\+/g, '-').replace(/\//g, '_'), 'base64url')
  return b.length === TOKEN_BYTES ? b : undefined
}

export type Redeemed = { readonly ok: true; readonly nonce: string } | { readonly ok: false }

export function verifyToken(
  token: Buffer,
  challengeDigest: Buffer,
  issuers: readonly Issuer[],
): Redeemed {
  if (token.length !== TOKEN_BYTES || token.readUInt16BE(0) !== TOKEN_TYPE_BLIND_RSA)
    return { ok: false }
  if (!ctEqual(token.subarray(34, 66), challengeDigest)) return { ok: false }
  const keyId = token.subarray(66, 98)
  const issuer = issuers.find((i) => ctEqual(i.keyId, keyId))
  if (issuer === undefined) return { ok: false }
  const ok = verify(
    'sha384',
    token.subarray(0, 98),
    { key: issuer.key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 },
    token.subarray(98),
  )
  return ok ? { ok: true, nonce: token.subarray(2, 34).toString('base64url') } : { ok: false }
}
