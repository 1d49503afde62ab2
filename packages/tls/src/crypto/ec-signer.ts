/**
 * ECDSA signing keys on the native addon (ADR 0012), for the key server: one OpenSSL key
 * and signing context per key, set up once, where node:crypto's sign() sets up a
 * digest-sign context on every call. It also signs a bare digest, which node:crypto
 * cannot (the keyless ECDSA digest operations).
 *
 * Undefined when the addon is not loaded: the key server then signs with node:crypto
 * (content) and @noble/curves (digests).
 */
import { Slabs } from '../slab.ts'
import { native, type NativeEcSigner } from './native.ts'

export interface EcSigner {
  /** ECDSA over SHA-256/384 of `content` (the hash named by `hash`): DER ECDSA-Sig-Value. */
  signContent(hash: 'sha256' | 'sha384', content: Uint8Array): Uint8Array
  /** ECDSA over `digest` as given (1 to 64 bytes): DER ECDSA-Sig-Value. */
  signDigest(digest: Uint8Array): Uint8Array
  /** Frees the key now; later calls throw. */
  free(): void
}

/**
 * Signatures (public, at most 104 bytes) are written into pieces of shared slabs: an array
 * of their own each would be an ArrayBuffer (a malloc) per signature.
 */
const signatureSlabs = new Slabs(256)

class NativeSigner implements EcSigner {
  readonly #s: NativeEcSigner
  constructor(s: NativeEcSigner) {
    this.#s = s
  }
  #sign(hashLength: 0 | 32 | 48, data: Uint8Array): Uint8Array {
    const out = signatureSlabs.take(this.#s.maxSignatureBytes)
    return out.subarray(0, this.#s.sign(hashLength, data, out, 0))
  }
  signContent(hash: 'sha256' | 'sha384', content: Uint8Array): Uint8Array {
    return this.#sign(hash === 'sha256' ? 32 : 48, content)
  }
  signDigest(digest: Uint8Array): Uint8Array {
    return this.#sign(0, digest)
  }
  free(): void {
    this.#s.free()
  }
}

/**
 * A signer for the key (curve, scalar d, uncompressed point Q = 04 ‖ x ‖ y); throws if Q is
 * not d·G. Undefined without the addon. The caller keeps (and zeroes) `scalar`.
 */
export function nativeEcSigner(
  curve: 'P-256' | 'P-384',
  scalar: Uint8Array,
  publicPoint: Uint8Array,
): EcSigner | undefined {
  if (native === undefined) return undefined
  return new NativeSigner(new native.EcSigner(curve, scalar, publicPoint))
}
