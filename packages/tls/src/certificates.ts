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
  /** The client's signature_algorithms. */
  readonly signatureSchemes: readonly number[]
  /** The client's signature_algorithms_cert, if sent (else signature_algorithms applies). */
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
      return { leaf: new X509Certificate(first), chain: e.chain, signer: e.signer }
    })
  }

  select(q: CertificateQuery): CertificateSelection | undefined {
    const named =
      q.serverName === undefined
        ? this.#entries
        : this.#entries.filter((e) => e.leaf.checkHost(q.serverName as string) !== undefined)
    if (named.length === 0) return undefined
    for (const e of named) {
      if (e.signer.schemes.some((s) => q.signatureSchemes.includes(s))) {
        return { chain: e.chain, signer: e.signer }
      }
    }
    throw new PeerIncompatibleError(
      AlertDescription.HandshakeFailure,
      'Cannot select certificate: no common signature scheme',
    )
  }
}
