/**
 * Certificate selection (RFC 8446 §4.4.2.2, RFC 6066 §3). A
 * {@link CertificateSource} picks a chain and a signer from the ClientHello's
 * server_name and signature algorithms, before any key exchange or signature,
 * so an unknown name costs the server nothing.
 */
import { X509Certificate } from 'node:crypto'
import { AlertDescription, SignatureScheme } from './constants.ts'
import { PeerIncompatibleError } from './errors.ts'
import type { Signer } from './signer.ts'

export interface CertificateQuery {
  /** server_name from the ClientHello (lower case, validated), if any. */
  readonly serverName?: string
  /** The client's signature_algorithms usable in TLS 1.3 CertificateVerify (no PKCS#1 v1.5, no SHA-1). */
  readonly signatureSchemes: readonly number[]
  /** Schemes the client accepts in certificates: signature_algorithms_cert, or the whole signature_algorithms. */
  readonly signatureSchemesCert?: readonly number[]
}

export interface CertificateSelection {
  /** DER certificates, leaf first. */
  readonly chain: readonly Uint8Array[]
  readonly signer: Signer
  /** Schemes allowed for this certificate, in preference order (default: `signer.schemes`). */
  readonly schemes?: readonly SignatureScheme[]
}

/**
 * Chooses the certificate for a handshake. Return undefined when no certificate
 * serves `serverName`: the handshake then ends with unrecognized_name (RFC 6066
 * §3 allows the server to abort with it) if the client sent a name, else
 * handshake_failure. Throw a PeerIncompatibleError(handshake_failure) when the
 * name is known but no certificate fits the client's signature algorithms.
 */
export interface CertificateSource {
  select(query: CertificateQuery): CertificateSelection | undefined
}

interface Entry {
  readonly leaf: X509Certificate
  readonly chain: readonly Uint8Array[]
  readonly signer: Signer
  /** The TLS scheme of each certificate's own signature (undefined: unknown, or any RSA-PSS). */
  readonly chainSchemes: readonly (readonly number[])[]
}

/** X.509 signature algorithm OID → the TLS 1.3 SignatureScheme values that name it (RFC 8446 §4.2.3). */
const SCHEMES_BY_OID = new Map<string, readonly number[]>([
  ['1.2.840.10045.4.3.2', [SignatureScheme.ecdsa_secp256r1_sha256]],
  ['1.2.840.10045.4.3.3', [SignatureScheme.ecdsa_secp384r1_sha384]],
  ['1.2.840.10045.4.3.4', [SignatureScheme.ecdsa_secp521r1_sha512]],
  ['1.2.840.113549.1.1.11', [SignatureScheme.rsa_pkcs1_sha256]],
  ['1.2.840.113549.1.1.12', [SignatureScheme.rsa_pkcs1_sha384]],
  ['1.2.840.113549.1.1.13', [SignatureScheme.rsa_pkcs1_sha512]],
  [
    '1.2.840.113549.1.1.10',
    [
      SignatureScheme.rsa_pss_rsae_sha256,
      SignatureScheme.rsa_pss_rsae_sha384,
      SignatureScheme.rsa_pss_rsae_sha512,
      SignatureScheme.rsa_pss_pss_sha256,
      SignatureScheme.rsa_pss_pss_sha384,
      SignatureScheme.rsa_pss_pss_sha512,
    ],
  ],
  ['1.3.101.112', [SignatureScheme.ed25519]],
])

/** True when every certificate of the chain is signed with a scheme the client accepts for certificates. */
function chainAcceptable(e: Entry, accepted: readonly number[]): boolean {
  return e.chainSchemes.every(
    (names) => names.length === 0 || names.some((s) => accepted.includes(s)),
  )
}

/** Splits PEM text (bytes) into DER certificates. Certificates are public, so text is fine here. */
export function certificatesFromPem(pem: Uint8Array | string): Uint8Array[] {
  const text = typeof pem === 'string' ? pem : new TextDecoder().decode(pem)
  const out: Uint8Array[] = []
  for (const m of text.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)) {
    out.push(new Uint8Array(new X509Certificate(m[0]).raw))
  }
  return out
}

/**
 * A fixed set of certificates, several per name allowed (e.g. ECDSA and RSA):
 * the first that matches the name (SAN DNS/IP, wildcards per RFC 6125) and can
 * sign with one of the client's schemes wins; with no server_name, any fits.
 *
 * @example
 * ```ts
 * const source = new StaticCertificateSource([
 *   { chain: certificatesFromPem(readFileSync('ecdsa.pem')), signer: LocalSigner.fromPem(readFileSync('ecdsa.key')) },
 *   { chain: certificatesFromPem(readFileSync('rsa.pem')), signer: LocalSigner.fromPem(readFileSync('rsa.key')) },
 * ])
 * ```
 */
export class StaticCertificateSource implements CertificateSource {
  readonly #entries: Entry[]

  constructor(entries: readonly { chain: readonly Uint8Array[]; signer: Signer }[]) {
    this.#entries = entries.map((e) => {
      const first = e.chain[0]
      if (first === undefined) throw new TypeError('Cannot add certificate: chain is empty')
      const chainSchemes = e.chain.map((der) => {
        return SCHEMES_BY_OID.get(new X509Certificate(der).signatureAlgorithmOid) ?? []
      })
      return { leaf: new X509Certificate(first), chain: e.chain, signer: e.signer, chainSchemes }
    })
  }

  select(q: CertificateQuery): CertificateSelection | undefined {
    const named =
      q.serverName === undefined
        ? this.#entries
        : this.#entries.filter((e) => e.leaf.checkHost(q.serverName as string) !== undefined)
    if (named.length === 0) return undefined
    const fits = named.filter((e) => e.signer.schemes.some((s) => q.signatureSchemes.includes(s)))
    // RFC 8446 §4.2.3, §4.4.2.2: prefer a chain signed with schemes from
    // signature_algorithms_cert (or signature_algorithms when absent); if none is,
    // send one anyway and let the client decide.
    const accepted = q.signatureSchemesCert ?? q.signatureSchemes
    const best = fits.find((e) => chainAcceptable(e, accepted)) ?? fits[0]
    if (best) return { chain: best.chain, signer: best.signer }
    throw new PeerIncompatibleError(
      AlertDescription.HandshakeFailure,
      'Cannot select certificate: no common signature scheme',
    )
  }
}
