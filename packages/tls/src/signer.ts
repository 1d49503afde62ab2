/**
 * The boundary between the TLS handshake and whoever holds the private key
 * (gokeyless exposes the remote key as Go's `crypto.Signer`; we do the same with
 * an asynchronous interface, so a remote signature never blocks the event loop).
 */
import type { SignatureScheme } from './constants.ts'

/**
 * Signs TLS 1.3 CertificateVerify content (RFC 8446 §4.4.3): 64 spaces, the
 * context string, a zero byte and the transcript hash. The handshake awaits it.
 *
 * @example
 * ```ts
 * const sig = await signer.sign(SignatureScheme.ecdsa_secp256r1_sha256, content)
 * ```
 */
export interface Signer {
  /** The schemes this key can produce, in preference order. */
  readonly schemes: readonly SignatureScheme[]
  /**
   * Returns the signature over `content` for `scheme`. `content` is the whole
   * CertificateVerify input (not a digest). Rejects on any failure; the handshake
   * then fails with an internal_error alert.
   */
  sign(scheme: SignatureScheme, content: Uint8Array, context?: SignContext): Promise<Uint8Array>
  /**
   * Optional: the same signature at once, for keys cheap enough to sign on the
   * event loop (ECDSA, EdDSA held in this process). Throws on any failure. When
   * present, the Node adapter uses it instead of `sign`: no promise round trip,
   * and CertificateVerify leaves in the same record as the rest of the flight.
   */
  readonly signNow?: (scheme: SignatureScheme, content: Uint8Array) => Uint8Array
}

/** Facts about the visitor's connection that a remote signer forwards for policy and audit. */
export interface SignContext {
  /** server_name from the ClientHello, if any. */
  readonly serverName?: string
  /** The visitor's IP address (4 or 16 bytes). May be a getter that looks it up on first use. */
  readonly clientIp?: Uint8Array | undefined
  /** The address the visitor connected to (4 or 16 bytes). May be a getter, like clientIp. */
  readonly serverIp?: Uint8Array | undefined
  /** Aborts the signature when the connection goes away. */
  readonly signal?: AbortSignal
}
