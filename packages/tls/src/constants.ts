/**
 * TLS 1.3 code points (RFC 8446 §4, §B.3; IANA TLS registries). `as const`
 * objects, not enums, because enums do not survive type stripping.
 */

/** RFC 8446 §4.2.3 SignatureScheme. */
export const SignatureScheme = {
  rsa_pkcs1_sha256: 0x0401,
  rsa_pkcs1_sha384: 0x0501,
  rsa_pkcs1_sha512: 0x0601,
  ecdsa_secp256r1_sha256: 0x0403,
  ecdsa_secp384r1_sha384: 0x0503,
  ecdsa_secp521r1_sha512: 0x0603,
  rsa_pss_rsae_sha256: 0x0804,
  rsa_pss_rsae_sha384: 0x0805,
  rsa_pss_rsae_sha512: 0x0806,
  ed25519: 0x0807,
  ed448: 0x0808,
  rsa_pss_pss_sha256: 0x0809,
  rsa_pss_pss_sha384: 0x080a,
  rsa_pss_pss_sha512: 0x080b,
  rsa_pkcs1_sha1: 0x0201,
  ecdsa_sha1: 0x0203,
} as const
export type SignatureScheme = (typeof SignatureScheme)[keyof typeof SignatureScheme]

const schemeNames = new Map<number, string>(Object.entries(SignatureScheme).map(([k, v]) => [v, k]))

/** A readable name for logs, e.g. "ecdsa_secp256r1_sha256" or "0x1234". */
export function nameOfSignatureScheme(v: number): string {
  return schemeNames.get(v) ?? `0x${v.toString(16).padStart(4, '0')}`
}

/** The hash a TLS 1.3 signature scheme uses, as a node:crypto digest name; undefined for EdDSA. */
export function hashOfSignatureScheme(s: number): 'sha256' | 'sha384' | 'sha512' | undefined {
  switch (s) {
    case SignatureScheme.ecdsa_secp256r1_sha256:
    case SignatureScheme.rsa_pss_rsae_sha256:
    case SignatureScheme.rsa_pss_pss_sha256:
    case SignatureScheme.rsa_pkcs1_sha256:
      return 'sha256'
    case SignatureScheme.ecdsa_secp384r1_sha384:
    case SignatureScheme.rsa_pss_rsae_sha384:
    case SignatureScheme.rsa_pss_pss_sha384:
    case SignatureScheme.rsa_pkcs1_sha384:
      return 'sha384'
    case SignatureScheme.ecdsa_secp521r1_sha512:
    case SignatureScheme.rsa_pss_rsae_sha512:
    case SignatureScheme.rsa_pss_pss_sha512:
    case SignatureScheme.rsa_pkcs1_sha512:
      return 'sha512'
    default:
      return undefined
  }
}
