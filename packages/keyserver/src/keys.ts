/**
 * Private keys held in software: parsing, type detection and the SKI the keyless
 * client names them by (docs keyless-wire-format §1.7).
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto'
import { nativeEcSigner, type EcSigner } from '@outpost/tls'
import { Reader, toHex } from '@outpost/wire'
import { skiOf } from './_keyless.ts'
import { derTlv } from './_der.ts'
import { KeyServerError } from './errors.ts'

/** The key types the key server signs with. */
export const KeyType = {
  Rsa: 'rsa',
  EcdsaP256: 'ecdsa-p256',
  EcdsaP384: 'ecdsa-p384',
  Ed25519: 'ed25519',
} as const
export type KeyType = (typeof KeyType)[keyof typeof KeyType]

/** A private key held in this process. */
export interface SoftwareKey {
  readonly type: KeyType
  readonly ski: Uint8Array
  readonly skiHex: string
  readonly privateKey: KeyObject
  readonly publicKey: KeyObject
  /** RSA modulus length in bits. */
  readonly modulusBits: number
  /** The EC private scalar (big-endian, field-sized) for digest signing; zeroised by {@link wipeSoftwareKey}. */
  readonly scalar: Uint8Array | undefined
  /**
   * EC keys, when the native addon is loaded: the key in OpenSSL with its signing context
   * set up once (ADR 0013); freed by {@link wipeSoftwareKey}.
   */
  readonly signer: EcSigner | undefined
}

/** Detects the key type; throws for anything the key server does not sign with. */
export function keyTypeOf(key: KeyObject): KeyType {
  const kind = key.asymmetricKeyType
  if (kind === 'rsa') return KeyType.Rsa
  if (kind === 'ed25519') return KeyType.Ed25519
  if (kind === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve
    if (curve === 'prime256v1') return KeyType.EcdsaP256
    if (curve === 'secp384r1') return KeyType.EcdsaP384
    throw new KeyServerError(
      'ERR_KEYSERVER_KEY',
      `Cannot load key: unsupported curve "${String(curve)}"`,
    )
  }
  throw new KeyServerError(
    'ERR_KEYSERVER_KEY',
    `Cannot load key: unsupported key type "${String(kind)}"`,
  )
}

/**
 * Loads a private key from PEM or DER (PKCS#8, SEC1, PKCS#1) bytes. The caller
 * keeps ownership of `input` and should zeroise it.
 */
export function loadSoftwareKey(input: Uint8Array): SoftwareKey {
  let privateKey: KeyObject
  try {
    const buf = Buffer.from(input.buffer, input.byteOffset, input.byteLength)
    const isPem = buf.includes('-----BEGIN')
    privateKey = isPem
      ? createPrivateKey({ key: buf, format: 'pem' })
      : createPrivateKey({ key: buf, format: 'der', type: 'pkcs8' })
  } catch (e) {
    throw new KeyServerError(
      'ERR_KEYSERVER_KEY',
      'Cannot load key: not a private key in PEM or PKCS#8 DER',
      {
        cause: e,
      },
    )
  }
  return softwareKeyFrom(privateKey)
}

export function softwareKeyFrom(privateKey: KeyObject): SoftwareKey {
  if (privateKey.type !== 'private') {
    throw new KeyServerError('ERR_KEYSERVER_KEY', 'Cannot load key: expected a private key')
  }
  const type = keyTypeOf(privateKey)
  const publicKey = createPublicKey(privateKey)
  const ski = skiOf(publicKey)
  const ec = type === KeyType.EcdsaP256 || type === KeyType.EcdsaP384
  const scalar = ec ? ecScalarOf(privateKey, type === KeyType.EcdsaP256 ? 32 : 48) : undefined
  return {
    type,
    ski,
    skiHex: toHex(ski),
    privateKey,
    publicKey,
    modulusBits: type === KeyType.Rsa ? (privateKey.asymmetricKeyDetails?.modulusLength ?? 0) : 0,
    scalar,
    signer:
      scalar === undefined
        ? undefined
        : nativeEcSigner(
            type === KeyType.EcdsaP256 ? 'P-256' : 'P-384',
            scalar,
            ecPointOf(publicKey),
          ),
  }
}

/** The uncompressed point 04 ‖ x ‖ y of an EC public key (public: a JWK is fine here). */
function ecPointOf(key: KeyObject): Buffer {
  const { x, y } = key.export({ format: 'jwk' })
  return Buffer.concat([
    Buffer.of(4),
    Buffer.from(x ?? '', 'base64url'),
    Buffer.from(y ?? '', 'base64url'),
  ])
}

/** Reads d out of the SEC1 ECPrivateKey (RFC 5915 §3), left-padded to `size` bytes. */
function ecScalarOf(key: KeyObject, size: number): Uint8Array {
  const der = key.export({ format: 'der', type: 'sec1' })
  try {
    const seq = derTlv(new Reader(der, 'ECPrivateKey'), 0x30, 'ECPrivateKey')
    derTlv(seq, 0x02, 'version')
    const d = derTlv(seq, 0x04, 'privateKey').rest()
    if (d.length > size) throw new RangeError('Cannot decode ECPrivateKey: scalar too long')
    // Off the V8 heap: a typed array this small would live in it, where the GC copies
    // objects (leaving the old bytes behind) and native calls copy it out.
    const out = new Uint8Array(new ArrayBuffer(size))
    out.set(d, size - d.length)
    return out
  } finally {
    der.fill(0)
  }
}

/** Zeroises what can be zeroised; KeyObjects are released to the collector. */
export function wipeSoftwareKey(key: SoftwareKey): void {
  key.scalar?.fill(0)
  key.signer?.free()
}

/** PKCS#8 DER of the key, for sealing. The caller zeroises the result. */
export function exportPkcs8(key: SoftwareKey): Buffer {
  return key.privateKey.export({ format: 'der', type: 'pkcs8' })
}
