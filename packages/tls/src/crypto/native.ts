/**
 * The native crypto addon (packages/tls/native, docs/adr/0012-native-crypto-addon.md):
 * record AEADs that keep one OpenSSL context per traffic key and direction, one-shot
 * AEAD for session tickets, HMAC for the key schedule, X25519 and ML-KEM-768
 * encapsulation without KeyObjects. Built by scripts/build-native.ts
 * (the root `prepare` script); when it is not built, or `OUTPOST_TLS_NATIVE=0`, every
 * caller uses node:crypto instead ("node" backend), with the same results.
 *
 * `OUTPOST_TLS_NATIVE=1` makes a missing or unloadable addon an error at import
 * instead of a fallback (for CI and benchmarks that must measure the addon).
 */
import { createRequire } from 'node:module'
import type { AeadName } from './suites.ts'

/** One traffic key in one direction (native/outpost_tls.c documents each call). */
export interface NativeAead {
  /** Seals in place: AAD record[0, aadLength), plaintext up to the last 16 bytes, tag last. */
  seal(seq: number, record: Uint8Array, aadLength: number): void
  /** Plaintext length written to output[outputOffset...], or -1 (output zeroed) for a bad tag. */
  open(
    seq: number,
    aad: Uint8Array,
    input: Uint8Array,
    output: Uint8Array,
    outputOffset: number,
  ): number
  /**
   * The next traffic key of the same cipher and direction, derived from `trafficSecret`
   * (same length as the first) into the same context; the sequence number restarts.
   */
  rekey(trafficSecret: Uint8Array): void
  /** Frees and cleanses the context now (also done when it is garbage-collected). */
  free(): void
}

/** One AEAD operation under a key used for this call only (native/outpost_tls.c: once_args). */
type AeadOnce = (
  name: AeadName,
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  input: Uint8Array,
  output: Uint8Array,
  outputOffset: number,
) => number

export interface NativeEcSigner {
  /** DER signature bytes of ECDSA over SHA-256 (32) / SHA-384 (48) of data, or over data as the digest (0). */
  sign(hashLength: 0 | 32 | 48, data: Uint8Array, output: Uint8Array, outputOffset: number): number
  readonly maxSignatureBytes: number
  /** Frees the key now (OpenSSL clears the scalar); sign() then throws. */
  free(): void
}

export interface NativeBinding {
  /** Derives the write key and IV from `trafficSecret` (RFC 8446 §7.3) in C. */
  readonly Aead: new (
    name: AeadName,
    direction: 'seal' | 'open',
    trafficSecret: Uint8Array,
    hashLength: 32 | 48,
  ) => NativeAead
  /** Seals `input` once under `key` and `nonce`: ciphertext ‖ tag into output; returns its length. */
  readonly aeadSealOnce: AeadOnce
  /** Opens `input` (ciphertext ‖ tag) once; the plaintext length, or -1 (output zeroed) for a bad tag. */
  readonly aeadOpenOnce: AeadOnce
  /**
   * HMAC-SHA256 (32) or HMAC-SHA384 (48): `buffer` holds key ‖ message; the MAC's
   * first `length` bytes are written right after them, and key and message are zeroed.
   */
  hmac(
    hashLength: 32 | 48,
    buffer: Uint8Array,
    keyLength: number,
    messageLength: number,
    length: number,
  ): void
  /** Fresh key pair; writes its public key and the shared secret; false for an all-zero secret. */
  x25519(
    peerPublic: Uint8Array,
    publicOut: Uint8Array,
    publicOffset: number,
    secretOut: Uint8Array,
    secretOffset: number,
  ): boolean
  /** Encapsulates to `ek`; false when `ek` fails FIPS 203's input check. */
  mlkem768Encapsulate(
    ek: Uint8Array,
    ciphertextOut: Uint8Array,
    ciphertextOffset: number,
    secretOut: Uint8Array,
    secretOffset: number,
  ): boolean
  /** Bytes of a SHA-256/384 state for hashInit, hashUpdate and hashDigest. */
  readonly hashStateBytes: number
  /** A fresh SHA-256 (32) or SHA-384 (48) state in `state`. Absent in FIPS mode, as are the two below. */
  readonly hashInit?: (hashLength: 32 | 48, state: Uint8Array) => void
  /** Advances `state` over `data`. */
  readonly hashUpdate?: (hashLength: 32 | 48, state: Uint8Array, data: Uint8Array) => void
  /** Writes the digest of `state` so far to output[outputOffset...]; `state` is unchanged. */
  readonly hashDigest?: (
    hashLength: 32 | 48,
    state: Uint8Array,
    output: Uint8Array,
    outputOffset: number,
  ) => void
  /**
   * An ECDSA key built from its scalar and uncompressed public point (checked to be a
   * pair), with a signing context set up once.
   */
  readonly EcSigner: new (
    curve: 'P-256' | 'P-384',
    scalar: Uint8Array,
    publicPoint: Uint8Array,
  ) => NativeEcSigner
  /** glibc's malloc_trim(0): whole free pages of the C heap back to the kernel (absent elsewhere). */
  readonly mallocTrim?: () => boolean
  /** OpenSSL's version text, e.g. "OpenSSL 3.5.8 25 Aug 2026". */
  readonly openssl: string
  /** The exports' version (OUTPOST_TLS_INTERFACE in the C source); absent before version 2. */
  readonly interfaceVersion?: number
}

/**
 * The addon interface this code was written for. A build from older sources (pulled
 * without `npm install`, which rebuilds it) lacks functions or takes other arguments, so it
 * is not used: a warning names the fix, and the code runs on node:crypto.
 */
export const ADDON_INTERFACE = 3

/** Why `binding` cannot serve this code, or undefined when it can. */
export function staleAddonReason(binding: { interfaceVersion?: unknown }): string | undefined {
  const v = binding.interfaceVersion
  if (v === ADDON_INTERFACE) return undefined
  return (
    `the built addon has interface ${typeof v === 'number' ? String(v) : '1 or older'}, this code needs ${String(ADDON_INTERFACE)}; ` +
    `rebuild it with 'node scripts/build-native.ts' (npm install does)`
  )
}

/** Where record protection and key exchange run. */
export type CryptoBackend = 'native' | 'node'

/** The addon's path, relative to this file (packages/tls/native/build/). */
const ADDON_PATH = '../../native/build/outpost_tls.node'

function load(): { binding: NativeBinding | undefined; error: unknown } {
  const mode = process.env['OUTPOST_TLS_NATIVE']
  if (mode === '0') return { binding: undefined, error: undefined }
  try {
    const binding = createRequire(import.meta.url)(ADDON_PATH) as NativeBinding
    const stale = staleAddonReason(binding)
    if (stale !== undefined) throw new Error(stale)
    return { binding, error: undefined }
  } catch (error) {
    if (mode === '1') {
      throw new Error('Cannot load the TLS crypto addon: OUTPOST_TLS_NATIVE=1 requires it', {
        cause: error,
      })
    }
    // Not built (no compiler at install time): the documented fallback, silently.
    if ((error as { code?: unknown }).code === 'MODULE_NOT_FOUND') {
      return { binding: undefined, error: undefined }
    }
    // Built but unloadable (another Node or OpenSSL): say so once, then fall back.
    process.emitWarning(
      `Cannot load the TLS crypto addon, using node:crypto: ${(error as Error).message}`,
      { code: 'OUTPOST_TLS_NATIVE' },
    )
    return { binding: undefined, error }
  }
}

const loaded = load()

/** The addon, when it is built, loads and is not switched off. */
export const native: NativeBinding | undefined = loaded.binding

/** Why a built addon did not load (undefined when it loaded, is absent or is switched off). */
export const nativeLoadError: unknown = loaded.error

/** The backend used unless a caller asks for another (tests run both). */
export const defaultBackend: CryptoBackend = native !== undefined ? 'native' : 'node'

/** The backends this process can run: both when the addon loaded. */
export const availableBackends: readonly CryptoBackend[] =
  native !== undefined ? ['native', 'node'] : ['node']

/** The binding for `backend`, or undefined for 'node'; throws if 'native' is not loaded. */
export function bindingFor(backend: CryptoBackend): NativeBinding | undefined {
  if (backend === 'node') return undefined
  if (native === undefined) {
    throw new Error("Cannot use the 'native' crypto backend: the addon is not loaded")
  }
  return native
}
