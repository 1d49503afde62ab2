/**
 * A {@link Signer} over a private key held in this process (node:crypto). The
 * keyless `RemoteSigner` in @outpost/keyless implements the same interface.
 * RSA signing (about a millisecond) runs on libuv's thread pool (the callback
 * form of `crypto.sign`), so the event loop keeps serving other connections
 * meanwhile. ECDSA and EdDSA take tens of microseconds, less than handing the
 * job to the thread pool costs in CPU, so they run inline: `signNow` (which
 * the Node adapter calls directly) and `sign` (the same, as a Promise).
 */
import { constants, createPrivateKey, sign, type KeyObject } from 'node:crypto'
import { SignatureScheme, hashOfSignatureScheme } from './constants.ts'
import type { SignContext, Signer } from './signer.ts'
import { InternalError } from './errors.ts'

/** The TLS 1.3 CertificateVerify schemes a key can produce (never PKCS#1 v1.5: RFC 8446 §4.4.3). */
export function schemesForKey(key: KeyObject): SignatureScheme[] {
  const type = key.asymmetricKeyType
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve
    if (curve === 'prime256v1') return [SignatureScheme.ecdsa_secp256r1_sha256]
    if (curve === 'secp384r1') return [SignatureScheme.ecdsa_secp384r1_sha384]
    if (curve === 'secp521r1') return [SignatureScheme.ecdsa_secp521r1_sha512]
    return []
  }
  if (type === 'rsa') {
    return [
      SignatureScheme.rsa_pss_rsae_sha256,
      SignatureScheme.rsa_pss_rsae_sha384,
      SignatureScheme.rsa_pss_rsae_sha512,
    ]
  }
  if (type === 'rsa-pss') {
    return [
      SignatureScheme.rsa_pss_pss_sha256,
      SignatureScheme.rsa_pss_pss_sha384,
      SignatureScheme.rsa_pss_pss_sha512,
    ]
  }
  if (type === 'ed25519') return [SignatureScheme.ed25519]
  return []
}

/**
 * @example
 * ```ts
 * const signer = LocalSigner.fromPem(readFileSync('key.pem')) // a Buffer, never a string
 * const sig = await signer.sign(signer.schemes[0], content)
 * ```
 */
export class LocalSigner implements Signer {
  readonly schemes: readonly SignatureScheme[]
  readonly #key: KeyObject
  /** Present for ECDSA and EdDSA keys only: RSA keeps the event loop free (see `sign`). */
  readonly signNow?: (scheme: SignatureScheme, content: Uint8Array) => Uint8Array

  constructor(key: KeyObject) {
    if (key.type !== 'private')
      throw new InternalError('Cannot create LocalSigner: not a private key')
    this.#key = key
    this.schemes = schemesForKey(key)
    if (this.schemes.length === 0) {
      throw new InternalError(
        `Cannot create LocalSigner: key type '${key.asymmetricKeyType ?? 'unknown'}' has no TLS 1.3 scheme`,
      )
    }
    // Cheap enough to sign on the event loop: everything but RSA.
    if (key.asymmetricKeyType !== 'rsa' && key.asymmetricKeyType !== 'rsa-pss') {
      this.signNow = (scheme, content) => {
        if (!this.schemes.includes(scheme)) {
          throw new InternalError(
            `Cannot sign: scheme 0x${scheme.toString(16)} does not fit this key`,
          )
        }
        try {
          return sign(hashOfSignatureScheme(scheme) ?? null, content, this.#key)
        } catch (err) {
          throw new InternalError('Cannot sign: node:crypto failed', { cause: err })
        }
      }
    }
  }

  /** From a PEM (or DER PKCS#8) private key in bytes; the caller zeroises `pem` afterwards. */
  static fromPem(pem: Uint8Array): LocalSigner {
    return new LocalSigner(createPrivateKey({ key: pem as never, format: 'pem' }))
  }

  sign(scheme: SignatureScheme, content: Uint8Array, context?: SignContext): Promise<Uint8Array> {
    if (!this.schemes.includes(scheme)) {
      return Promise.reject(
        new InternalError(`Cannot sign: scheme 0x${scheme.toString(16)} does not fit this key`),
      )
    }
    if (context?.signal?.aborted === true) {
      return Promise.reject(new InternalError('Cannot sign: aborted'))
    }
    if (this.signNow) {
      try {
        return Promise.resolve(this.signNow(scheme, content))
      } catch (err) {
        return Promise.reject(err instanceof Error ? err : new InternalError('Cannot sign'))
      }
    }
    const hash = hashOfSignatureScheme(scheme) ?? null
    const isPss =
      (scheme & 0xff00) === 0x0800 &&
      scheme !== SignatureScheme.ed25519 &&
      scheme !== SignatureScheme.ed448
    const key = isPss
      ? {
          key: this.#key,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: hash === 'sha256' ? 32 : hash === 'sha384' ? 48 : 64,
        }
      : this.#key
    return new Promise((resolve, reject) => {
      sign(hash, content, key, (err, sig) => {
        if (err) reject(new InternalError('Cannot sign: node:crypto failed', { cause: err }))
        else resolve(sig)
      })
    })
  }
}
