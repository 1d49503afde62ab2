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
 * replay cache on the nonce.
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
  readonly keyId: Buffer
  readonly key: KeyObject
  /** The issuer key as sent in `token-key=` (base64url SPKI). */
  readonly tokenKey: string
}

/** token_key_id = SHA-256(SubjectPublicKeyInfo) (RFC 9578 §6.5). */
export function issuerFromSpki(spkiBase64: string): Issuer {
  const der = Buffer.from(spkiBase64, 'base64')
  const key = createPublicKey({ key: der, format: 'der', type: 'spki' })
  if (key.asymmetricKeyDetails?.modulusLength !== 2048)
    throw new Error('privacyPass.issuerKeys: need a 2048-bit RSA key')
  return {
    keyId: createHash('sha256').update(der).digest(),
    key,
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
